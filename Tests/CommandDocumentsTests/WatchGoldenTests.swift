import Foundation
import Testing

@testable import CommandDocuments
@testable import PortKit

/// `watch --json`'s NDJSON objects, one per line, compared byte for byte with
/// `Golden/watch-events.ndjson`, which the JSONEncoder-based encoding wrote.
@Suite struct WatchGoldenTests {
  static let hostile = DocumentFixtures.hostile

  static func listener(
    _ proto: TransportProtocol, _ address: String, _ port: UInt16, holders: [WatchedListener.Holder],
    hidden: WatchedListener.HiddenHolder? = nil, kernel: Bool = false, sockets: Int = 1
  ) -> WatchedListener {
    WatchedListener(
      key: .init(proto: proto, local: Endpoint(address: DocumentFixtures.address(address), port: port)),
      holders: holders, hidden: hidden, kernel: kernel, sockets: sockets)
  }

  static var lines: [String] {
    let node = WatchedListener.Holder(
      pid: 5001, startTime: 1_700_000_000.25, name: "node", commandLine: ["node", "server.js"], user: "dev", uid: 1000)
    let odd = WatchedListener.Holder(
      pid: 5010, startTime: nil, name: hostile[1], commandLine: hostile, user: nil, uid: nil)
    let bare = WatchedListener.Holder(pid: 5020, name: "kworker")
    let specs = DocumentFixtures.specs
    let protocols: Set<TransportProtocol> = [.udp, .tcp]
    var lines: [String] = []
    func add(_ event: PortWatchEvent, specs: [PortSpec] = specs, interval: Duration = .milliseconds(250)) {
      lines.append(
        WatchEventJSON(event: event, specs: specs, protocols: protocols, interval: interval).encoded())
    }
    add(PortWatchEvent(kind: .ready, time: 1_700_000_000.123_456))
    add(PortWatchEvent(kind: .ready, time: 1_700_000_000), specs: [], interval: .seconds(2))
    add(
      PortWatchEvent(
        kind: .present, time: 1_700_000_001.5, listener: listener(.tcp, "127.0.0.1", 5000, holders: [node])))
    add(
      PortWatchEvent(
        kind: .listening, time: 1_700_000_002.999_9,
        listener: listener(.udp, "::", 53, holders: [odd, bare], hidden: .init(uid: 0, user: hostile[0]), sockets: 3)))
    add(
      PortWatchEvent(
        kind: .changed, time: 1_700_000_003.001,
        listener: listener(.tcp, "fe80::1", 8080, holders: [], hidden: .init(uid: nil, user: nil)),
        previous: listener(.tcp, "fe80::1", 8080, holders: [node], kernel: false, sockets: 2)))
    add(
      PortWatchEvent(
        kind: .closed, time: 1_700_000_004, listener: listener(.tcp, "0.0.0.0", 2049, holders: [], kernel: true),
        previous: listener(.tcp, "0.0.0.0", 2049, holders: [], kernel: true)))
    lines.append(
      WatchErrorJSON(error: PortKitError(.socketTablesUnreadable, hostile[1]), time: 1_700_000_005.25).encoded())
    return lines
  }

  @Test func eventsMatchTheGoldenFile() throws {
    try GoldenDocumentTests.check("watch-events", Self.lines.joined(separator: "\n"), extension: "ndjson")
  }
}
