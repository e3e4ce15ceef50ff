import PortKit

/// A recognised server, as `who`, `why`, `kill` and `free` print it.
package struct ServerJSON: Encodable {
  package var server: RecognizedServer

  package enum CodingKeys: String, CodingKey {
    case kind, name, detail, master, workers, stopSignal, graceSeconds, stop, signalsEveryProcess
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(server.kind.rawValue, forKey: .kind)
    try container.encode(server.name, forKey: .name)
    try container.encode(server.detail, forKey: .detail)
    try container.encode(server.master.pid, forKey: .master)
    try container.encode(server.workers.map(\.pid), forKey: .workers)
    try container.encode(server.stopSignal.description, forKey: .stopSignal)
    try container.encode(server.grace.seconds, forKey: .graceSeconds)
    try container.encode(server.stop, forKey: .stop)
    try container.encode(server.signalsEveryProcess, forKey: .signalsEveryProcess)
  }
}
