import PortKit

/// The result of `find`.
struct FindDocument: Encodable {
  var exitCode: Int32
  var proto: TransportProtocol
  var host: IPAddress?
  var ports: [UInt16]
  var skipped: [PortFinder.Skip: Int]
  /// `--stable`'s key, when given.
  var stableKey: String? = nil

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, proto = "protocol", host, ports, skipped, stableKey
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("find", forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(proto.rawValue, forKey: .proto)
    try container.encode(host?.description, forKey: .host)
    try container.encode(ports, forKey: .ports)
    try container.encode(
      Dictionary(uniqueKeysWithValues: skipped.map { ($0.key.rawValue, $0.value) }), forKey: .skipped)
    try container.encode(stableKey, forKey: .stableKey)
  }
}
