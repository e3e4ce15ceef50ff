/// Everything PortKit reads from or does to a machine, behind its seams: made once per
/// command (or once per server) and handed to every use case. Tests build one from fakes.
///
/// ```swift
/// let system = try System.make()
/// let checks = try await BindDiagnosis(system: system).checks(for: try PortSpec.parseList("8080"))
/// ```
public struct System: Sendable {
  /// The backend the seams read through.
  public var backend: Backend
  /// Sockets, their holders and process details.
  public var source: any SystemSource
  /// Signals and exit watching; `nil` where this backend cannot signal processes.
  public var control: (any ProcessControl)?
  /// Real bind probes; `nil` where the platform has none yet.
  public var binder: (any PortBinder)?
  /// Runs other programs (tmux for pane names, and the tool-driven backends).
  public var runner: any CommandRunner
  /// Facts about the host: the effective uid, this pid, the clock.
  public var host: HostFacts
  /// The files project detection reads (the real file system unless a test passes a fake).
  public var projectFiles: any ProjectFiles

  /// A system from these seams; tests pass fakes.
  public init(
    backend: Backend, source: any SystemSource, control: (any ProcessControl)?, binder: (any PortBinder)?,
    runner: any CommandRunner, host: HostFacts, projectFiles: any ProjectFiles = LocalProjectFiles()
  ) {
    self.projectFiles = projectFiles
    self.backend = backend
    self.source = source
    self.control = control
    self.binder = binder
    self.runner = runner
    self.host = host
  }

  /// The machine this process runs on, read through `backend`.
  public static func make(_ backend: Backend = .automatic) throws(PortKitError) -> System {
    System(
      backend: backend == .automatic ? SystemSources.platformBackend : backend,
      source: try SystemSources.source(backend), control: try? SystemSources.processControl(backend),
      binder: try? SystemSources.binder(), runner: SubprocessRunner(), host: .local)
  }
}

extension System {
  /// Another machine, read and signalled over ssh (`--host`): `backend` is `automatic`
  /// (`/proc` where the remote has it, lsof otherwise), `procfs` or `lsof`. There is no bind
  /// probe (the remote socket table decides), project files are not read, and programs such
  /// as a manager's stop command run on the remote host.
  public static func remote(_ host: RemoteHost, backend: Backend = .automatic) throws(PortKitError) -> System {
    let mode: RemoteScript.Mode
    switch backend {
    case .automatic: mode = .automatic
    case .procfs: mode = .procfs
    case .lsof: mode = .lsof
    case .netstat, .windows:
      throw PortKitError(
        .unsupportedPlatform, "--host reads the remote host through /proc or lsof, not the \(backend.rawValue) backend."
      )
    }
    // Bounded: what another machine prints is not trusted.
    let local = SubprocessRunner(outputLimit: 48 << 20)
    let state = RemoteState()
    var facts = HostFacts(effectiveUID: .max, now: { 0 })
    facts.platform = .other
    return System(
      backend: backend == .automatic ? .procfs : backend,
      source: RemoteSystemSource(host: host, mode: mode, runner: local, state: state),
      control: RemoteProcessControl(host: host, runner: local, state: state), binder: nil,
      runner: RemoteCommandRunner(host: host, runner: local), host: facts, projectFiles: NoProjectFiles())
  }
}
