import ArgumentParser
import PortKit

struct Who: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "who",
    abstract: "Show every socket bound on the ports and all the processes holding each.",
    discussion: """
      Only listeners (TCP LISTEN, bound UDP) unless --all. With an address \
      (127.0.0.1:3000, [::]:3000) every socket that would collide with a bind there is shown, \
      wildcards and dual-stack sockets included. A socket whose process cannot be seen is \
      reported held, by its user, with how to see more: never as free. Each holder's project \
      (the folder its working directory lies in, its git branch and framework) is noted under \
      the table.

      Exit status: 0 when at least one asked port is held, 1 when none is, 2 when the system \
      could not be inspected, 64 on a usage error.
      """
  )

  @OptionGroup var target: PortSpecArguments

  @OptionGroup var selection: SocketSelectionOptions
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    let specs = target.specs
    let result = try await Inspection.run(
      "who", output: output, backend: backend.backend, host: remote.remoteHost
    ) { system in
      try await PortInspection(system: system).inspect(
        specs, protocols: selection.protocols, listenersOnly: !selection.all)
    }
    let (report, provenance, excluded) = (result.report, result.provenance, result.exclusions)
    let status = report.isHeld ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.streamReport(
        ReportDocument(
          command: "who", exitCode: status, query: specs, report: report, excluded: excluded, provenance: provenance,
          projects: result.projects, host: remote.host))
    } else if !output.quiet {
      ReportText.printWho(
        report, specs: specs, all: selection.all, provenance: provenance, projects: result.projects)
      for hit in excluded { print(TerminalText.escape(hit.advice)) }
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}
