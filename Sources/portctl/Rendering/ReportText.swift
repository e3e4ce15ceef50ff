import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Human output for `who` and `list`.
enum ReportText {
  static func printWho(
    _ report: PortReport, specs: [PortSpec], all: Bool, provenance: [PID: Provenance] = [:],
    projects: [PID: Project] = [:]
  ) {
    let style = Style.standardOutput
    let what = all ? "no socket" : "nothing listening"
    if report.sockets.isEmpty {
      print("\(what) on \(specs.map(\.text).joined(separator: ", "))")
      return
    }
    printTable(report, showRemote: report.sockets.contains { $0.socket.remote != nil }, projects: projects)
    var notes = footnotes(report)
    for process in uniqueHolders(report) {
      if let manager = provenance[process.pid]?.managers.first {
        notes.append(
          "\(TerminalText.escape(process.name)) (pid \(process.pid)): \(TerminalText.escape(manager.summary))")
      }
      if let project = projects[process.pid] {
        notes.append("\(TerminalText.escape(process.name)) (pid \(process.pid)): \(ProjectText.summary(project))")
      }
    }
    let unmatched = specs.filter { spec in !report.sockets.contains { spec.matches($0.socket) } }
    if !unmatched.isEmpty {
      notes.append("\(what) on \(unmatched.map(\.text).joined(separator: ", "))")
    }
    for spec in specs {
      let matched = report.sockets.filter { spec.matches($0.socket) }
      guard !matched.isEmpty, !matched.contains(where: { $0.owner.holdsPort }) else { continue }
      var states: [String] = []
      for state in matched.map(\.socket.state.rawValue) where !states.contains(state) { states.append(state) }
      notes.append(
        matched.count == 1
          ? "nothing holds \(spec.text): only 1 \(states.joined(separator: ", ")) socket remains, owned by no process; it closes by itself"
          : "nothing holds \(spec.text): only \(matched.count) \(states.joined(separator: ", ")) sockets remain, owned by no process; they close by themselves"
      )
    }
    let processes = uniqueHolders(report)
    if !processes.isEmpty {
      print("")
      var details = TextTable(headers: ["PID", "UID", "STARTED", "EXECUTABLE", "CWD"])
      for process in processes {
        let row: [TextTable.Cell] = [
          .init(text: "\(process.pid)"), .init(text: process.uid.map { "\($0)" } ?? "-"),
          .init(text: process.startTime.map(localTime) ?? "-"),
          .init(text: process.executable ?? "-"), .init(text: process.workingDirectory ?? "-"),
        ]
        details.append(row)
      }
      for line in details.render(style: style) { print(line) }
    }
    if !notes.isEmpty {
      print("")
      for note in notes { print(note) }
    }
  }

  /// Prints `list`'s table and notes (see ``ListTable``).
  static func printList(_ listing: SocketListing, projects: [PID: Project] = [:], emptyMessage: String? = nil) {
    if listing.isEmpty {
      print(emptyMessage ?? "no sockets matched")
      return
    }
    let showRemote = listing.indices.contains { listing.socket(at: $0).remote != nil }
    var table = ListTable(
      listing, takenAt: listing.takenAt, showRemote: showRemote, style: .standardOutput, projects: projects)
    table.write(withNotes: true)
  }

  static func headers(showRemote: Bool, showProject: Bool = false) -> [String] {
    var headers = ["PROTO", "LOCAL"]
    if showRemote { headers.append("REMOTE") }
    headers += ["STATE", "PID", "PPID", "USER", "UPTIME"]
    if showProject { headers.append("PROJECT") }
    return headers + ["COMMAND"]
  }

  /// The socket table of `report` (see ``ListTable``).
  static func printTable(_ report: PortReport, showRemote: Bool, projects: [PID: Project] = [:]) {
    var table = ListTable(
      report.sockets, takenAt: report.takenAt, showRemote: showRemote, style: .standardOutput, projects: projects)
    table.write()
  }

  static func footnotes(_ report: PortReport) -> [String] {
    var notes = Footnotes()
    for entry in report.sockets { notes.add(entry) }
    return notes.lines
  }

  /// The notes under a socket table, gathered one socket at a time: shared sockets
  /// (once per parent and set of children, however many sockets they share), hints about
  /// well-known holders (once per process), hidden and kernel-held sockets.
  struct Footnotes {
    private struct Family: Hashable {
      var parent: PID
      var children: [PID]
      /// Every child is a direct child of `parent` (not a grandchild).
      var direct: Bool
    }
    private var families: [Family: (first: Int, sockets: Int)] = [:]
    private var hinted = Set<PID>()
    private var hints: [String] = []
    private var ownership: [String] = []

    mutating func add(_ entry: SocketReport) {
      let socket = entry.socket
      switch entry.owner {
      case .processes(let holders):
        if holders.count > 1 {
          let byParent = Dictionary(grouping: holders.filter { $0.sharesWith != nil }) { $0.sharesWith ?? 0 }
          for (parent, group) in byParent {
            let family = Family(
              parent: parent, children: group.map(\.process.pid).sorted(),
              direct: group.allSatisfy { $0.process.ppid == parent })
            let order = families.count
            families[family, default: (order, 0)].sockets += 1
          }
        }
        if let unseen = entry.unseenHolders {
          ownership.append("\(socket.proto.rawValue) \(socket.local): \(TerminalText.escape(unseen.alsoHeldAdvice))")
        }
        for holder in holders where !hinted.contains(holder.process.pid) {
          guard let hint = HolderHints.hint(for: holder.process, socket: socket) else { continue }
          hinted.insert(holder.process.pid)
          hints.append(
            "\(TerminalText.escape(holder.process.name)) (pid \(holder.process.pid)) is \(TerminalText.escape(hint))")
        }
      case .hidden(let hidden):
        ownership.append("\(socket.proto.rawValue) \(socket.local): \(TerminalText.escape(hidden.advice))")
      case .kernel:
        ownership.append(
          "\(socket.proto.rawValue) \(socket.local): no process holds this listener; the kernel does (an in-kernel server such as nfsd)"
        )
      case .none:
        break
      }
    }

    var lines: [String] {
      let shared = families.sorted { ($0.key.parent, $0.value.first) < ($1.key.parent, $1.value.first) }.map {
        family, count in
        let pids = family.children.map { "\($0)" }.joined(separator: ", ")
        let what = count.sockets == 1 ? "the socket" : "\(count.sockets) sockets"
        // Not "inherited": no creation time is known for a socket, so a child that was
        // passed the socket (node cluster workers get it over IPC) looks the same.
        let relation = family.direct ? "parent" : "ancestor"
        let verb = family.children.count == 1 ? "shares" : "share"
        let their = family.children.count == 1 ? "its" : "their"
        return "\(pids) \(verb) \(what) with \(their) \(relation) \(family.parent)"
      }
      return shared + hints + ownership
    }
  }

  static func uniqueHolders(_ report: PortReport) -> [ProcessRecord] {
    var seen = Set<PID>()
    var result: [ProcessRecord] = []
    for entry in report.sockets {
      for holder in entry.owner.holders where seen.insert(holder.process.pid).inserted {
        result.append(holder.process)
      }
    }
    return result
  }

  /// `2026-11-22 16:02:11` in the local time zone. The offset comes from the C library
  /// (`TZ`, `/etc/localtime`): FoundationEssentials alone knows no zone but UTC.
  static func localTime(_ epoch: Double) -> String {
    let offset = HostFacts.local.utcOffset(epoch)
    let zone = TimeZone(secondsFromGMT: offset) ?? .gmt
    let style = Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: zone)
      .year().month().day().time(includingFractionalSeconds: false)
    return Date(timeIntervalSince1970: epoch).formatted(style)
  }
}
