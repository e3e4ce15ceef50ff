import PortKit

/// The result of `find`.
package struct FindDocument: Encodable {
  package var exitCode: Int32
  package var proto: TransportProtocol
  package var host: IPAddress?
  package var ports: [UInt16]
  package var skipped: [PortFinder.Skip: Int]
  /// `--stable`'s key, when given.
  package var stableKey: String?

  /// The document of `find`.
  package init(
    exitCode: Int32, proto: TransportProtocol, host: IPAddress?, ports: [UInt16], skipped: [PortFinder.Skip: Int],
    stableKey: String? = nil
  ) {
    self.exitCode = exitCode
    self.proto = proto
    self.host = host
    self.ports = ports
    self.skipped = skipped
    self.stableKey = stableKey
  }

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, proto = "protocol", host, ports, skipped, stableKey
  }

  package func encode(to encoder: any Encoder) throws {
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
