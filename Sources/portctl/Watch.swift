import ArgumentParser
import PortKit

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#elseif os(Windows)
@preconcurrency import CRT
#endif
#if canImport(Dispatch) && !os(Windows)
import Dispatch
#endif

struct Watch: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "watch",
    abstract: "Print one line per listener that starts, stops or changes holders, until interrupted.",
    discussion: """
      Without ports every listener is watched. The listeners already there are printed first \
      as `present`, then one `ready` line; after it every line is a change: `listening` (a \
      socket started listening, with its holders), `changed` (the same protocol, address and \
      port now held by other processes, compared by pid and start time: a respawn or hot \
      restart faster than the interval), `closed` (with its last holders). Each line starts \
      with an ISO-8601 time (UTC). --json writes one JSON object per line (NDJSON, schema in \
      docs/json.md), flushed as it is written.

      --interval takes 250ms, 1s, 2.5s or a plain number of seconds (10 ms to 1 hour; \
      default 250ms).

      Exit status: 0 interrupted (SIGINT, SIGTERM); 2 the socket table could not be read (at \
      the start or later: the watch ends rather than report every listener closed); 64 usage \
      error.
      """
  )

  @Argument(
    parsing: .allUnrecognized,
    help: ArgumentHelp("Ports to watch (default: every port): \(PortSpec.acceptedForms).", valueName: "port"))
  var ports: [String] = []

  @Flag(name: .long, help: "Only TCP listeners.") var tcp = false
  @Flag(name: .long, help: "Only UDP listeners (bound, unconnected sockets).") var udp = false
  @Flag(name: .long, help: "Write one JSON object per line (NDJSON; schema: docs/json.md).") var json = false
  // Unconditional: `--interval -1s` is a bad interval, not a missing one.
  @Option(
    name: .long, parsing: .unconditional,
    help: ArgumentHelp("How often to read the socket table: 250ms, 1s, 2.5s, or seconds.", valueName: "duration"))
  var interval = "250ms"
  @OptionGroup var backend: BackendOptions

  /// The interval, parsed: `250ms`, `1s`, `2.5s`, `2` (seconds); `nil` when it is not one
  /// of those or is outside 10 ms to 1 hour.
  static func parseInterval(_ text: String) -> Duration? {
    guard !text.isEmpty, !text.contains(where: \.isWhitespace), let parsed = DurationArgument(argument: text),
      parsed.duration >= .milliseconds(10), parsed.duration <= .seconds(3600)
    else { return nil }
    return parsed.duration
  }

  static let intervalForms = "250ms, 1s, 2.5s or a number of seconds, from 10 ms to 1 hour"

  func validate() throws {
    _ = try PortArguments.parse(ports)
    if Self.parseInterval(interval) == nil {
      throw ValidationError("--interval takes \(Self.intervalForms); '\(interval)' is none of them")
    }
  }

  var protocols: Set<TransportProtocol> {
    switch (tcp, udp) {
    case (true, false): [.tcp]
    case (false, true): [.udp]
    default: [.tcp, .udp]
    }
  }

  func run() async throws {
    let specs = try PortArguments.parse(ports)
    let period = Self.parseInterval(interval) ?? .milliseconds(250)
    let system: System
    do {
      system = try System.make(backend.backend)
    } catch {
      throw fail(error)
    }
    let events = PortWatching(system: system).events(
      for: specs.isEmpty ? nil : specs, protocols: protocols, interval: period)
    let renderer = WatchRenderer(json: json, specs: specs, protocols: protocols, interval: period)
    if !json, Terminal.isTerminal(2) {
      let what = specs.isEmpty ? "every listener" : specs.map(\.text).joined(separator: ", ")
      Terminal.printError("portctl: watching \(TerminalText.escape(what)) every \(interval); Ctrl-C to stop")
    }
    // The signals are caught before the watch prints anything: one sent as soon as the
    // first line is out must end it, not be lost between the two.
    let stopper = WatchStopper()
    let stop = WatchSignals.onTermination { stopper.stop() }
    defer { withExtendedLifetime(stop) {} }
    let consumer = Task { () async throws -> Void in
      for try await event in events {
        renderer.write(event)
      }
    }
    stopper.attach(consumer)
    switch await consumer.result {
    case .success: break
    case .failure(let error as PortKitError): throw fail(error)
    case .failure(let error): throw fail(PortKitError(.socketTablesUnreadable, "The watch failed: \(error)."))
    }
    StandardStreams.finish(ExitStatus.success)
  }

  /// Writes a failed read (a line, or an `error` object with --json) and gives exit 2.
  func fail(_ error: PortKitError) -> ExitCode {
    if json {
      WatchRenderer.writeLine(WatchErrorJSON(error: error, time: WatchRenderer.now()).encoded())
    } else {
      Terminal.printError("portctl: \(TerminalText.escape(error.message))")
    }
    return ExitCode(ExitStatus.systemError)
  }
}

/// The task consuming a watch, cancelled when a signal asks, also when the signal comes
/// before the task exists.
final class WatchStopper: @unchecked Sendable {
  private var task: Task<Void, any Error>?
  private var requested = false
  #if canImport(Dispatch) && !os(Windows)
  /// Serialises `task` and `requested` between the signal handler and the main task.
  private let queue = DispatchQueue(label: "portctl.watch.stop")
  private func locked(_ body: () -> Void) { queue.sync(execute: body) }
  #else
  private func locked(_ body: () -> Void) { body() }
  #endif

  /// Ends the watch: cancels the task, or the task given later.
  func stop() {
    locked {
      requested = true
      task?.cancel()
    }
  }

  /// The task to cancel; cancelled at once when a stop came first.
  func attach(_ task: Task<Void, any Error>) {
    locked {
      self.task = task
      if requested { task.cancel() }
    }
  }
}

/// SIGINT and SIGTERM end a watch cleanly: the consuming task is cancelled, the sequence
/// ends, the output is flushed, and the status is 0.
enum WatchSignals {
  /// The pipe's write end the handler writes a byte to (-1 until there is one).
  nonisolated(unsafe) static var wakeUp: Int32 = -1

  /// Starts listening for SIGINT and SIGTERM, calling `stop` for each; what it returns must
  /// stay alive meanwhile. Called before the watch prints anything.
  ///
  /// The handler is installed here and now (`signal`), and only writes a byte to a pipe that
  /// a dispatch source reads: a dispatch signal source alone registers later, on its own
  /// thread, and a signal sent right after the first line could arrive before it and be lost.
  /// A byte in the pipe waits for the reader.
  static func onTermination(_ stop: @escaping @Sendable () -> Void) -> [Any] {
    #if canImport(Dispatch) && !os(Windows)
    var ends: [Int32] = [-1, -1]
    guard pipe(&ends) == 0 else { return [] }
    wakeUp = ends[1]
    let source = DispatchSource.makeReadSource(fileDescriptor: ends[0], queue: .global())
    source.setEventHandler {
      var byte: UInt8 = 0
      _ = read(ends[0], &byte, 1)
      stop()
    }
    source.resume()
    for number in [SIGINT, SIGTERM] {
      signal(number) { _ in
        var byte: UInt8 = 1
        _ = write(WatchSignals.wakeUp, &byte, 1)
      }
    }
    return [source]
    #else
    return []
    #endif
  }
}
