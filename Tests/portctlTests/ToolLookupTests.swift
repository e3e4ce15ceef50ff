#if os(Linux)
import Foundation
import Testing

/// The tools portctl reads (`ps`, `lsof`) are the system's own, run in the C locale's formats,
/// whoever runs portctl and whatever comes first on their PATH.
@Suite(.serialized) struct ToolLookupTests {
  static let canRun =
    isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/lsof")

  @Test(.enabled(if: canRun, "needs root, unshare, setpriv and lsof: portctl run as nobody"))
  func anUnprivilegedUserGetsTheSystemsPsNotTheOneFirstOnPath() throws {
    // A directory nobody can read, with a `ps` that would leave a mark and print nonsense.
    let directory = URL(fileURLWithPath: "/tmp/portctl-tools-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
    let fake = directory.appendingPathComponent("ps")
    let mark = directory.appendingPathComponent("fake-ps-ran")
    try "#!/bin/sh\ntouch '\(mark.path)'\necho '1 0 0 So 29 Nov 2026 fake'\n".write(
      to: fake, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
    for product in [Products.portctl, Products.holder] {
      let copied = try run(
        URL(fileURLWithPath: "/usr/bin/install"),
        ["-m", "755", product.path, directory.appendingPathComponent(product.lastPathComponent).path])
      try #require(copied.status == 0, "\(copied.stderr)")
    }
    let script = """
      set -u
      ip link set lo up
      ready=$(mktemp)
      setpriv --reuid=65534 --regid=65534 --clear-groups "\(directory.path)/port-holder" tcp:127.0.0.1:0 >"$ready" &
      holder=$!
      trap 'kill -9 $holder 2>/dev/null' EXIT
      for _ in $(seq 200); do grep -q ready "$ready" && break; sleep 0.02; done
      port=$(sed -n 's/.*ports=\\([0-9]*\\).*/\\1/p' "$ready")
      echo "holder=$holder port=$port"
      setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="\(directory.path):/usr/bin:/bin" \\
        LC_ALL=de_DE.UTF-8 "\(directory.path)/portctl" why "$port" --backend lsof --json
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "bash", "-c", script])
    let first = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
    let holder = try #require(
      first.split(separator: " ").first?.split(separator: "=").last.flatMap { Int32($0) },
      "no holder: \(result.stdout) \(result.stderr)")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(!FileManager.default.fileExists(atPath: mark.path), "portctl ran the ps first on PATH")
    let json = result.stdout.split(separator: "\n", maxSplits: 1).dropFirst().joined()
    let document = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    let sockets = try #require(document?["sockets"] as? [[String: Any]])
    let processes = try #require(sockets.first?["processes"] as? [[String: Any]])
    #expect(processes.first?["pid"] as? Int32 == holder || processes.first?["pid"] as? Int == Int(holder))
    // The real ps's start time made it through: the holder started moments ago.
    let started = try #require(processes.first?["startTime"] as? String, "no start time: \(json)")
    #expect(started.hasPrefix("20"))
  }
}
#endif
