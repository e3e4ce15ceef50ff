/// Who holds ports, and why: `who`, `why` and `list` as one library call each.
public struct PortInspection: Sendable {
  /// The machine inspected.
  public var system: System

  /// An inspection of `system`.
  public init(system: System) {
    self.system = system
  }

  /// What `who` and `why` show for some ports: the sockets with their holders, how each
  /// holder came to be and what manages it, and the excluded ranges the ports fall in.
  public struct Result: Sendable {
    /// The sockets and their holders.
    public var report: PortReport
    /// Ancestry and managers of every holder.
    public var provenance: [PID: Provenance]
    /// Excluded port ranges (Windows) that overlap the asked specs.
    public var exclusions: [ExcludedPortHit]
    /// The project every holder runs in, where it runs in one.
    public var projects: [PID: Project] = [:]
  }

  /// The sockets bound on `specs` (listeners only unless `listenersOnly` is false), with
  /// every holder's provenance and project and (with `exclusions`) the excluded ranges they
  /// fall in.
  public func inspect(
    _ specs: [PortSpec], protocols: Set<TransportProtocol> = [.tcp, .udp], listenersOnly: Bool = true,
    exclusions: Bool = true
  ) async throws(PortKitError) -> Result {
    let query = SocketQuery(specs: specs, protocols: protocols, listenersOnly: listenersOnly)
    let report = try await report(for: query)
    return Result(
      report: report, provenance: await provenance(for: report),
      exclusions: exclusions ? await self.exclusions(for: specs, protocols: protocols) : [],
      projects: await projects(for: report.sockets.flatMap(\.owner.holders).map(\.process)))
  }

  /// The sockets `query` matches, each with every process that holds it.
  public func report(for query: SocketQuery) async throws(PortKitError) -> PortReport {
    PortInspector.report(from: try await system.source.snapshot(for: query), query: query)
  }

  /// The same for a listing: the sockets in order, joined with their holders as they are
  /// read, so that tens of thousands of sockets are never held as one report. `filter`
  /// keeps only the sockets whose holders it matches.
  public func listing(for query: SocketQuery, filter: ListFilter = ListFilter()) async throws(PortKitError)
    -> SocketListing
  {
    var listing = SocketListing(snapshot: try await system.source.snapshot(for: query), query: query)
    if filter.isActive { listing.narrow(to: filter.matches) }
    return listing
  }

  /// Ancestry and managers of every holder in `report`.
  public func provenance(for report: PortReport) async -> [PID: Provenance] {
    await ProvenanceReader(source: system.source, runner: system.runner).provenance(for: report)
  }

  /// The project each of `processes` runs in (see ``ProjectDetector`` for the rules), keyed
  /// by pid; a process with no project (or an unreadable working directory) has no entry.
  /// A record without a working directory (a listing reads none) has it read now.
  public func projects(for processes: [ProcessRecord]) async -> [PID: Project] {
    var detector = ProjectDetector(files: system.projectFiles, home: system.host.homeDirectory)
    var projects: [PID: Project] = [:]
    for process in processes where projects[process.pid] == nil {
      var directory = process.workingDirectory
      if directory == nil { directory = await system.source.workingDirectory(of: process.pid) }
      guard let directory else { continue }
      projects[process.pid] = detector.project(
        workingDirectory: directory, commandLine: process.commandLine, executable: process.executable)
    }
    return projects
  }

  /// Excluded port ranges (Windows) that overlap `specs`.
  public func exclusions(for specs: [PortSpec], protocols: Set<TransportProtocol>) async -> [ExcludedPortHit] {
    var hits: [ExcludedPortHit] = []
    for proto in TransportProtocol.allCases where protocols.contains(proto) {
      guard specs.contains(where: { $0.proto == nil || $0.proto == proto }) else { continue }
      hits += ExcludedPortHit.hits(specs, in: await system.source.reservations(for: proto))
    }
    return hits
  }
}
