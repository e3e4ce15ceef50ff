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
