import ArgumentParser
import PortKit

struct List: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "list",
    abstract: "List every listening TCP and bound UDP socket with its owners, sorted by port.",
    discussion: """
      Filters combine: --tcp/--udp, --process NAME (command name, executable or first \
      argument, case-insensitive substring), --pid N (sockets that N holds), --user NAME|UID \
      (the socket's or a holder's user), --project DIR (sockets held by a process running in \
      that project: its root is DIR, lies inside DIR, or is the project DIR lies in). The \
      PROJECT column shows each holder's project folder and git branch. Exit status: 0 when \
      something is listed, 1 when nothing matched (or nothing listens in the project), 2 when \
      the system could not be inspected, 64 on a usage error.
      """
  )

  @OptionGroup var selection: SocketSelectionOptions

  @Option(name: .long, help: "Only sockets held by a process whose name contains NAME.")
  var process: String?

  @Option(name: .long, help: "Only sockets held by this pid.")
  var pid: Int32?

  @Option(name: .long, help: "Only sockets of this user (name or uid).")
  var user: String?

  @Option(
    name: .long,
    help: ArgumentHelp("Only sockets held by a process running in the project at DIR.", valueName: "dir"))
  var project: String?

  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  func validate() throws {
    try remote.refuseProject(project)
    if let pid, pid <= 0 { throw ValidationError("--pid takes a process id above 0, not \(pid)") }
    if let process, process.isEmpty { throw ValidationError("--process takes a non-empty name") }
    if let user, user.isEmpty { throw ValidationError("--user takes a user name or uid") }
    if let project { _ = try ProjectArgument.resolve(project) }
  }

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    let query = SocketQuery(specs: nil, protocols: selection.protocols, listenersOnly: !selection.all, detail: .summary)
    let filter = ListFilter(process: process, pid: pid, user: user)
    let directory = try project.map(ProjectArgument.resolve)
    let (listing, projects) = try await Inspection.run(
      "list", output: output, backend: backend.backend, host: remote.remoteHost
    ) { system in
      let inspection = PortInspection(system: system)
      if let directory {
        guard let scope = inspection.projectScope(directory) else {
          throw ValidationError("--project takes a directory: '\(directory)' is not one that can be read")
        }
        return try await inspection.listing(for: query, filter: filter, scope: scope)
      }
      let listing = try await inspection.listing(for: query, filter: filter)
      return (listing, await inspection.projects(in: listing))
    }
    let status = listing.isEmpty ? ExitStatus.negative : ExitStatus.success
    if output.json {
      JSONOutput.streamListing(listing, exitCode: status, projects: projects, host: remote.host)
    } else if !output.quiet {
      ReportText.printList(
        listing, projects: projects, emptyMessage: directory.map { "nothing listens in project \($0)" })
    }
    // A listing of thousands of sockets is done: exit without tearing it down.
    Terminal.exitNow(status)
  }
}
