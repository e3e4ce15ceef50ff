#if os(Linux)
import Foundation
import Testing

/// A socket held by root, looked at by an unprivileged user: inside a fresh network
/// namespace (so nothing else is listening), as uid 65534.
@Suite(.serialized) struct HiddenOwnerTests {
  static let canRun =
    isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

  /// A copy of portctl that uid 65534 can execute even when the build directory is private.
  private func executableForNobody() throws -> URL {
    let directory = URL(fileURLWithPath: "/tmp/portctl-nobody-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
    let copy = directory.appendingPathComponent("portctl")
    try? FileManager.default.removeItem(at: copy)
    try FileManager.default.copyItem(at: Products.portctl, to: copy)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: copy.path)
    return copy
  }

  /// Starts a root holder in a new network namespace and runs portctl there as nobody.
  /// Prints the holder's ready line, then portctl's output; exits with portctl's status.
  private func scenario(_ portctlArguments: String, hidePID: Bool = false, prelude: String = "") throws -> (
    holderPID: Int, port: Int, result: RunResult
  ) {
    let binary = try executableForNobody()
    defer { try? FileManager.default.removeItem(at: binary.deletingLastPathComponent()) }
    let script = """
      set -u
      ip link set lo up
      \(hidePID ? "mount -t proc -o hidepid=2 proc /proc || exit 90" : "")
      \(prelude)
      ready=$(mktemp)
      "\(Products.holder.path)" tcp:127.0.0.1:0 udp:0.0.0.0:0 >"$ready" &
      holder=$!
      trap 'kill -9 $holder 2>/dev/null' EXIT
      for _ in $(seq 200); do grep -q ready "$ready" && break; sleep 0.02; done
      head -n1 "$ready"
      port=$(sed -n 's/.*ports=\\([0-9]*\\).*/\\1/p' "$ready")
      setpriv --reuid=65534 --regid=65534 --clear-groups "\(binary.path)" \(portctlArguments)
      status=$?
      kill -0 "$holder" 2>/dev/null && echo "holder-alive" >&2
      exit $status
      """
    let namespaces = hidePID ? ["--net", "--mount"] : ["--net"]
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), namespaces + ["bash", "-c", script])
    let firstLine = result.stdout.split(separator: "\n").first.map(String.init) ?? ""
    let fields = Dictionary(
      firstLine.split(separator: " ").compactMap { field -> (String, String)? in
        let parts = field.split(separator: "=", maxSplits: 1)
        return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
      }, uniquingKeysWith: { first, _ in first })
    let pid = try #require(fields["pid"].flatMap { Int($0) }, "holder did not start: \(result.stdout) \(result.stderr)")
    let port = try #require(fields["ports"]?.split(separator: ",").first.flatMap { Int($0) })
    var rest = result
    rest.stdout = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).dropFirst()
      .joined()
    return (pid, port, rest)
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func rootSocketSeenByNobodyIsHeldWithTheOwnerHidden() throws {
    let (holderPID, port, result) = try scenario("who \"$port\" --json")
    #expect(result.status == 0, "\(result.stderr)")
    let document = try result.json()
    #expect(document["held"] as? Bool == true)
    let socket = try #require(document.sockets.first)
    #expect(document.sockets.count == 1)
    #expect(socket["localPort"] as? Int == port)
    #expect(socket["owner"] as? String == "hidden")
    #expect((socket["processes"] as? [Any])?.isEmpty == true)
    let hidden = try #require(socket["hiddenOwner"] as? [String: Any])
    #expect(hidden["uid"] as? Int == 0)
    #expect(hidden["user"] as? String == "root")
    #expect(hidden["reason"] as? String == "needs-privilege")
    #expect((document["uninspectableProcesses"] as? Int ?? 0) > 0)
    #expect(!result.stdout.contains("\"pid\" : \(holderPID)"))
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func procMountedWithHidePIDStillShowsTheSocketHeld() throws {
    let (_, port, result) = try scenario("who \"$port\" --json", hidePID: true)
    #expect(result.status == 0, "\(result.stderr)")
    let socket = try #require(try result.json().sockets.first)
    #expect(socket["localPort"] as? Int == port)
    #expect(socket["owner"] as? String == "hidden")
    let hidden = try #require(socket["hiddenOwner"] as? [String: Any])
    #expect(hidden["user"] as? String == "root")
    #expect(hidden["reason"] as? String == "needs-privilege")
    // With hidepid the other processes are not even listed, so none is "uninspectable".
    #expect(try result.json()["uninspectableProcesses"] as? Int == 0)
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func holderInAnotherPIDNamespaceIsHeldAndNotVisibleEvenAsRoot() throws {
    // portctl runs as root in a new PID namespace with its own /proc, so the holder (in
    // ours, on the same network) has no /proc entry it can see.
    let holder = try Holder("tcp:127.0.0.1:0")
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/unshare"),
      ["--pid", "--fork", "--mount-proc", Products.portctl.path, "who", "\(holder.port)", "--json"])
    #expect(result.status == 0, "\(result.stderr)")
    let socket = try #require(try result.json().sockets.first)
    #expect(socket["owner"] as? String == "hidden")
    let hidden = try #require(socket["hiddenOwner"] as? [String: Any])
    #expect(hidden["reason"] as? String == "not-visible")
    #expect((hidden["advice"] as? String)?.contains("another PID namespace") == true)
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func killingARootHolderAsNobodyIsNotPermitted() throws {
    for command in ["kill", "free"] {
      let (_, port, result) = try scenario("\(command) \"$port\" --yes")
      #expect(result.status == 3, "\(command): \(result.stderr)")
      #expect(result.stderr.contains("tcp 127.0.0.1:\(port) is held by root (uid 0)"))
      #expect(result.stderr.contains("sudo portctl \(command) \(port)"))
      #expect(result.stderr.contains("nothing was signalled"))
      #expect(result.stderr.contains("holder-alive"))
      #expect(!result.stderr.contains("Fatal error"))
      let json = try scenario("\(command) \"$port\" --yes --json")
      #expect(json.result.status == 3)
      let document = try json.result.json()
      #expect(document["exitCode"] as? Int == 3)
      #expect((document["hidden"] as? [[String: Any]])?.first?["localPort"] as? Int == json.port)
    }
  }

  @Test(.enabled(if: canRun && FileManager.default.isExecutableFile(atPath: "/usr/bin/lsof"), "needs root and lsof"))
  func lsofBackendProvesAnInvisibleHolderWithABind() throws {
    // lsof as nobody cannot see root's process at all; the bind probe still finds the port taken.
    let (_, port, result) = try scenario("who \"$port\" --backend lsof --json")
    #expect(result.status == 0, "\(result.stderr)")
    let sockets = try result.json().sockets
    #expect(sockets.map { $0["protocol"] as? String } == ["tcp"])
    #expect(sockets.first?["localPort"] as? Int == port)
    #expect(sockets.first?["owner"] as? String == "hidden")
    #expect((sockets.first?["hiddenOwner"] as? [String: Any])?["reason"] as? String == "needs-privilege")
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func privilegedPortBelowTheNamespacesLimitFailsForAnUnprivilegedUser() throws {
    let prelude = "echo 600 > /proc/sys/net/ipv4/ip_unprivileged_port_start || exit 91"
    let below = try scenario("check 80 --json", prelude: prelude)
    #expect(below.result.status == 1, "\(below.result.stderr)")
    let check = try #require((try below.result.json()["checks"] as? [[String: Any]])?.first)
    #expect((check["reasons"] as? [[String: Any]])?.compactMap { $0["code"] as? String } == ["privileged"])
    #expect(
      ((check["reasons"] as? [[String: Any]])?.first?["message"] as? String)?.contains(
        "ip_unprivileged_port_start = 600") == true)
    #expect((check["binds"] as? [String: String])?["0.0.0.0"] == "permission-denied")
    let above = try scenario("check 700 --json", prelude: prelude)
    #expect(above.result.status == 0, "\(above.result.stdout)")
    let text = try scenario("check 80", prelude: prelude)
    #expect(
      text.result.stdout.contains("tcp 80: cannot bind (0.0.0.0 and [::])\n  privileged: 80 is a privileged port"))
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func humanOutputSaysWhoseItIsAndToUseSudo() throws {
    let (_, port, result) = try scenario("who \"$port\"")
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("tcp    127.0.0.1:\(port)  LISTEN  ?"))
    #expect(result.stdout.contains("(owner hidden)"))
    #expect(
      result.stdout.contains(
        "tcp 127.0.0.1:\(port): owner hidden: held by root (uid 0); run with sudo to see the process"))
    #expect(!result.stdout.contains("nothing listening"))
  }

  @Test(.enabled(if: canRun, "needs root, unshare and setpriv"))
  func listShowsHiddenSocketsOfEveryProtocol() throws {
    let (_, port, result) = try scenario("list --json")
    #expect(result.status == 0, "\(result.stderr)")
    let sockets = try result.json().sockets
    #expect(sockets.map { $0["protocol"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == ["tcp", "udp"])
    #expect(sockets.allSatisfy { $0["owner"] as? String == "hidden" })
    #expect(sockets.contains { $0["localPort"] as? Int == port })
    let byUser = try scenario("list --user root --json")
    #expect(byUser.result.status == 0)
    #expect(try byUser.result.json().sockets.count == 2)
  }
}
#endif
