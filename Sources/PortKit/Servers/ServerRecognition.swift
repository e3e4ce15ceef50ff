/// Recognises the server a holder belongs to from its command line, its ancestors, its
/// children and its environment. Pure: everything it reads comes in ``Clues``.
enum ServerRecognition {
  /// What the detectors read about one holder.
  struct Clues: Sendable {
    /// The process holding the socket.
    var holder: ProcessRecord
    /// Its ancestors, parent first.
    var ancestors: [ProcessRecord]
    /// The children of the holder and of its parent, by parent pid (where readable).
    var children: [PID: [ProcessRecord]]
    /// The holder's environment, where readable.
    var environment: [String: String]?
    /// The socket it holds, when known.
    var socket: SocketEntry?
    /// The environments of some of the children in ``children``, where read.
    var childEnvironments: [PID: [String: String]] = [:]
    /// systemd's socket units (`systemctl list-sockets`), where they were read: only for a
    /// holder that is systemd itself or runs in a systemd service.
    var socketUnits: [SystemdSocketUnit] = []

    /// The holder's parent, when known.
    var parent: ProcessRecord? { ancestors.first }

    /// The children of `pid` that were read (the holder's and its parent's).
    func children(of pid: PID) -> [ProcessRecord] { children[pid] ?? [] }
  }

  /// A detector: the server `clues` show, or `nil`.
  typealias Detector = @Sendable (Clues) -> RecognizedServer?

  /// Every detector, most specific first.
  static let detectors: [Detector] = webDetectors + serviceDetectors

  /// The first server a detector recognises.
  static func recognize(_ clues: Clues) -> RecognizedServer? {
    for detector in detectors {
      if let server = detector(clues) { return server }
    }
    return nil
  }
}
