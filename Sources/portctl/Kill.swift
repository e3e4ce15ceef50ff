import ArgumentParser
import PortKit

struct Kill: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "kill",
    abstract: "Signal every process holding the ports: graceful first, then SIGKILL.",
    discussion: """
      Every holder of a matched socket is a target: the parent and the children that share \
      it. Only listeners unless --all, which adds the connections accepted on the port (never \
      a client that connected elsewhere from it). A server portctl recognises (nginx, \
      gunicorn, PostgreSQL…) is stopped its way: only its master is signalled, with the \
      signal and grace it documents (SIGINT and 60 s for PostgreSQL, SIGQUIT and 10 s for \
      nginx), and its workers are waited on ("stopped with its master"); anything else gets \
      SIGTERM and 5 s. --signal, --timeout and --force replace the server's own. Whatever is \
      still alive when the grace ends gets SIGKILL. Each target is pinned \
      with a pidfd when it is found (before the prompt) and re-checked (start time) before \
      every signal, so a reused pid is never hit; one that no longer holds the port right \
      before the first signal is not signalled.

      Asks on a terminal (default No), showing for each server its master, its manager and \
      the manager's stop command, every other port its processes listen on, the children \
      that go with it, and what is sent when. Without a terminal it refuses unless --yes \
      (--json never implies it). Never signals pid 0 or 1, kernel threads, portctl or its \
      ancestors. --via-manager (or m at the prompt) runs the manager's stop command \
      (systemctl stop, supervisorctl stop, docker stop…) instead of signalling. On a \
      terminal a live line on standard error counts the wait; nothing of it on a pipe.

      Exit status: 0 every target is gone; 1 nothing to signal, a target survived SIGKILL, \
      or a manager's stop command failed; 3 not permitted (another user's process, or \
      unseen processes may hold the socket too: use sudo, or on Windows an elevated \
      terminal); 4 refused (no consent, a protected process, or --via-manager with no \
      manager portctl can run); 64 usage error.

      --project DIR signals the holders of every listener of the project at DIR (a holder is \
      in it when its project root is DIR, lies inside DIR, or is the project DIR lies in), with \
      one prompt for all; with ports as well, only the project's listeners on them. Nothing of \
      the project listening: exit 1.
      """
  )

  @OptionGroup var target: PortsOrProjectArguments

  @OptionGroup var termination: TerminationOptions
  @OptionGroup var selection: SocketSelectionOptions
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  func validate() throws { try remote.refuseProject(target.project) }

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    try await TerminationFlow.run(
      "kill", specs: target.specs, project: target.projectDirectory, termination: termination,
      selection: selection, output: output, backend: backend.backend, host: remote.remoteHost, verification: nil)
  }
}

struct Free: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "free",
    abstract: "Kill the holders of the ports, then prove with a real bind that they are free.",
    discussion: """
      Does what `kill` does (servers stopped their way, the same prompt, --via-manager), \
      then watches for a holder coming back and binds the port on \
      0.0.0.0 and [::] (and the addresses that were held). Only where something can start \
      a holder again (a supervisor such as supervisord, pm2, nodemon, runit or s6, a shell \
      running it in a loop, a systemd service with Restart=, a container runtime; not an \
      interactive shell, tmux or a one-shot script) is the socket table watched first, for \
      --respawn-window or until that respawner exits; a new holder is reported with its \
      parent and the exit status is 1, since killing again will not help.

      If only TIME_WAIT sockets remain, the port counts as free for servers that set \
      SO_REUSEADDR (most do) and this is said; --wait waits for them to drain so that even a \
      plain bind works.

      On a terminal a live line on standard error counts every wait (the exits, the respawn \
      watch, --wait); nothing of it on a pipe.

      Exit status: 0 the port binds; 1 not freed (still held, respawned, a target survived, \
      a manager's stop command failed); 3 not permitted (use sudo, or on Windows an elevated terminal; also when unseen processes \
      may hold the socket too); 4 refused (no consent, a protected process, or --via-manager \
      with no manager portctl can run); 64 usage.

      --project DIR frees every port a process of the project at DIR listens on (as for kill), \
      with one prompt for all; with ports as well, only the project's listeners on them. \
      Nothing of the project listening: exit 1.
      """
  )

  @OptionGroup var target: PortsOrProjectArguments

  @OptionGroup var termination: TerminationOptions

  @Flag(name: .long, help: "Wait for TIME_WAIT sockets to drain so that a plain bind works too.")
  var wait = false

  @Option(
    name: .long, help: ArgumentHelp("How long --wait waits (TIME_WAIT lasts 60 s on Linux).", valueName: "duration"))
  var waitTimeout = DurationArgument(argument: "65s")!

  @Option(
    name: .long,
    help: ArgumentHelp(
      "How long to watch for a holder being started again, where something can (default: 5s under a supervisor, systemd or a container runtime, 2s under a shell loop; 0 turns it off).",
      valueName: "duration"))
  var respawnWindow: DurationArgument?

  @OptionGroup var selection: SocketSelectionOptions
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  func validate() throws { try remote.refuseProject(target.project) }

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    try await TerminationFlow.run(
      "free", specs: target.specs, project: target.projectDirectory, termination: termination,
      selection: selection, output: output, backend: backend.backend, host: remote.remoteHost,
      verification: .init(respawnWindow: respawnWindow?.duration, drainTimeWait: wait ? waitTimeout.duration : nil))
  }
}
