import PortKit

/// The result of `who` and `list`.
package struct ReportDocument: JSONDocument {
  package var command: String
  package var exitCode: Int32
  package var query: [PortSpec]?
  package var report: PortReport
  package var excluded: [ExcludedPortHit] = []
  /// Ancestry and managers per holder (`who` and `why`).
  package var provenance: [PID: Provenance]? = nil
  /// Whether something holds a port, when `report` does not carry the sockets.
  package var held: Bool? = nil
  /// Each holder's project; `nil` leaves the `project` field out (a listing that did not
  /// read them).
  package var projects: [PID: Project]? = nil
  /// `--host`'s machine; `nil` (null) for this one.
  package var host: String? = nil

  /// The document of `who`, `why` or `list` (`command`).
  package init(
    command: String, exitCode: Int32, query: [PortSpec]?, report: PortReport, excluded: [ExcludedPortHit] = [],
    provenance: [PID: Provenance]? = nil, held: Bool? = nil, projects: [PID: Project]? = nil, host: String? = nil
  ) {
    self.command = command
    self.exitCode = exitCode
    self.query = query
    self.report = report
    self.excluded = excluded
    self.provenance = provenance
    self.held = held
    self.projects = projects
    self.host = host
  }

  package func write(to writer: inout JSONWriter) {
    write(to: &writer, sockets: report.sockets)
  }

  /// Writes the document with `sockets` in place of `report.sockets` (a listing, written
  /// without copying it into a report).
  package func write(to writer: inout JSONWriter, sockets: some Sequence<SocketReport>) {
    writer.beginObject()
    writer.field("command", command)
    writer.nullField("error")
    writer.key("excludedRanges")
    writer.beginArray()
    for hit in excluded {
      writer.beginObject()
      writer.field("administered", hit.range.administered)
      writer.field("advice", hit.advice)
      writer.field("firstPort", hit.range.ports.lowerBound)
      writer.field("lastPort", hit.range.ports.upperBound)
      writer.field("protocol", hit.proto.rawValue)
      writer.field("spec", hit.spec.text)
      writer.endObject()
    }
    writer.endArray()
    writer.field("exitCode", exitCode)
    writer.field("held", held ?? report.isHeld)
    writer.field("host", host)
    writer.key("query")
    if let query {
      writer.beginArray()
      for spec in query { SpecJSON(spec).write(to: &writer) }
      writer.endArray()
    } else {
      writer.null()
    }
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.key("sockets")
    writer.beginArray()
    for entry in sockets {
      SocketJSON(entry, takenAt: report.takenAt, provenance: provenance, projects: projects).write(to: &writer)
    }
    writer.endArray()
    writer.field("uninspectableProcesses", report.uninspectableCount)
    writer.endObject()
  }
}

package struct SpecJSON {
  package var text: String
  package var firstPort: UInt16
  package var lastPort: UInt16
  package var proto: String?
  package var address: String?

  package init(_ spec: PortSpec) {
    text = spec.text
    firstPort = spec.ports.lowerBound
    lastPort = spec.ports.upperBound
    proto = spec.proto?.rawValue
    address = spec.address?.description
  }

  /// Writes the spec as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("address", address)
    writer.field("firstPort", firstPort)
    writer.field("lastPort", lastPort)
    writer.field("protocol", proto)
    writer.field("text", text)
    writer.endObject()
  }
}

package struct SocketJSON {
  package var entry: SocketReport
  package var takenAt: Double
  package var provenance: [PID: Provenance]?
  package var projects: [PID: Project]?

  package init(
    _ entry: SocketReport, takenAt: Double, provenance: [PID: Provenance]? = nil, projects: [PID: Project]? = nil
  ) {
    self.entry = entry
    self.takenAt = takenAt
    self.provenance = provenance
    self.projects = projects
  }

  /// Writes the socket as one object.
  package func write(to writer: inout JSONWriter) {
    let socket = entry.socket
    let local = socket.local
    let remote = socket.remote
    writer.beginObject()
    writer.field("addressScope", local.address.scope.rawValue)
    writer.field("family", socket.family.rawValue)
    if case .hidden(let hidden) = entry.owner {
      Self.write(hidden, advice: hidden.advice, named: "hiddenOwner", to: &writer)
    } else {
      writer.nullField("hiddenOwner")
    }
    writer.field("id", socket.id)
    writer.field("listening", socket.isListener)
    writer.addressField("localAddress", local.address)
    writer.field("localPort", local.port)
    let ownerKind: String
    switch entry.owner {
    case .processes: ownerKind = "processes"
    case .hidden: ownerKind = "hidden"
    case .kernel: ownerKind = "kernel"
    case .none: ownerKind = "none"
    }
    writer.field("owner", ownerKind)
    writer.key("processes")
    writer.beginArray()
    for holder in entry.owner.holders {
      let pid = holder.process.pid
      let project: Project?? = projects.map { known in known[pid] }
      ProcessJSON(
        holder, takenAt: takenAt, socket: socket, provenance: provenance?[pid], withProvenance: provenance != nil,
        project: project
      ).write(to: &writer)
    }
    writer.endArray()
    writer.field("protocol", socket.proto.rawValue)
    if let remote { writer.addressField("remoteAddress", remote.address) } else { writer.nullField("remoteAddress") }
    writer.field("remotePort", remote?.port)
    writer.field("state", socket.state.rawValue)
    writer.key("timer")
    if let timer = socket.timer {
      writer.beginObject()
      writer.field("kind", timer.kind.rawValue)
      writer.field("remainingSeconds", timer.remainingSeconds)
      writer.endObject()
    } else {
      writer.null()
    }
    writer.field("uid", socket.uid)
    if let unseen = entry.unseenHolders {
      Self.write(unseen, advice: unseen.alsoHeldAdvice, named: "unseenHolders", to: &writer)
    } else {
      writer.nullField("unseenHolders")
    }
    writer.field("v6Only", socket.v6Only)
    writer.endObject()
  }

  private static func write(
    _ hidden: HiddenOwner, advice: String, named name: StaticString, to writer: inout JSONWriter
  ) {
    writer.key(name)
    writer.beginObject()
    writer.field("advice", advice)
    writer.key("candidates")
    writer.beginArray()
    for candidate in hidden.candidates {
      writer.beginObject()
      writer.commandField("command", candidate)
      writer.field("name", candidate.name)
      writer.field("pid", candidate.pid)
      writer.endObject()
    }
    writer.endArray()
    writer.field("reason", hidden.reason.rawValue)
    writer.field("uid", hidden.uid)
    writer.field("user", hidden.user)
    writer.endObject()
  }
}

package struct ProcessJSON {
  package var holder: HolderProcess
  package var takenAt: Double
  package var socket: SocketEntry
  package var provenance: Provenance?
  package var withProvenance: Bool
  /// The holder's project: `.some(nil)` writes `"project": null`, `nil` leaves the field out.
  package var project: Project??

  package init(
    _ holder: HolderProcess, takenAt: Double, socket: SocketEntry, provenance: Provenance? = nil,
    withProvenance: Bool = false, project: Project?? = nil
  ) {
    self.holder = holder
    self.takenAt = takenAt
    self.socket = socket
    self.provenance = provenance
    self.withProvenance = withProvenance
    self.project = project
  }

  /// Writes the holder as one object.
  package func write(to writer: inout JSONWriter) {
    let process = holder.process
    writer.beginObject()
    if withProvenance {
      writer.key("ancestry")
      writer.beginArray()
      for ancestor in provenance?.ancestry ?? [] {
        writer.beginObject()
        writer.commandField("command", ancestor)
        writer.field("name", ancestor.name)
        writer.field("pid", ancestor.pid)
        writer.field("ppid", ancestor.ppid)
        writer.dateField("startTime", ancestor.startTime)
        writer.endObject()
      }
      writer.endArray()
    }
    writer.commandField("command", process)
    writer.field("commandLine", process.commandLine)
    writer.field("cwd", process.workingDirectory)
    writer.field("executable", process.executable)
    writer.field("fds", holder.fds)
    writer.field("hint", HolderHints.hint(for: process, socket: socket))
    if withProvenance {
      writer.key("managers")
      writer.beginArray()
      for manager in provenance?.managers ?? [] {
        writer.beginObject()
        writer.field("detail", manager.detail)
        writer.field("evidence", manager.evidence.rawValue)
        writer.field("kind", manager.kind.rawValue)
        writer.field("name", manager.name)
        writer.field("selfReported", manager.evidence.isSelfReported)
        writer.field("stop", manager.stop)
        writer.endObject()
      }
      writer.endArray()
    }
    writer.field("name", process.name)
    writer.field("pid", process.pid)
    writer.field("ppid", process.ppid)
    if let project {
      writer.key("project")
      if let project {
        writer.beginObject()
        writer.field("branch", project.branch)
        writer.field("detachedCommit", project.detachedCommit)
        writer.field("framework", project.framework)
        writer.field("markers", project.markers)
        writer.field("name", project.name)
        writer.field("root", project.root)
        writer.endObject()
      } else {
        writer.null()
      }
    }
    writer.field("role", holder.role.rawValue)
    if withProvenance {
      writer.key("server")
      if let server = provenance?.server {
        ServerJSON(server: server).write(to: &writer)
      } else {
        writer.null()
      }
    }
    writer.field("services", process.services)
    writer.field("sharesWith", holder.sharesWith)
    writer.dateField("startTime", process.startTime)
    writer.field("uid", process.uid)
    writer.field("uptimeSeconds", process.startTime.map { max(0, takenAt - $0) })
    writer.field("user", process.user)
    writer.endObject()
  }
}
