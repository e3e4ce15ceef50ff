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
    // Copied by another process: a copy written from this one could leave its descriptor,
    // open for writing, in a child another test forks meanwhile, and exec would then fail
    // with "Text file busy".
    let copied = try run(URL(fileURLWithPath: "/usr/bin/install"), ["-m", "755", Products.portctl.path, copy.path])
    try #require(copied.status == 0, "\(copied.stderr)")
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

  static let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first { FileManager.default.isExecutableFile(atPath: $0) }

  /// Real nginx started as root with `user nobody;`: the master (root, which created the
  /// socket) is hidden from uid 65534 and the workers (nobody) are visible. portctl must say
  /// root's processes may hold the socket too, and kill/free must not signal the workers
  /// (the master would start new ones): exit 3 with nothing signalled.
  @Test(.enabled(if: canRun && nginx != nil, "needs root, unshare, setpriv and nginx"))
  func nginxWorkersSeenWithoutTheirRootMasterAreNotPresentedAsTheWholeStory() throws {
    let binary = try executableForNobody()
    defer { try? FileManager.default.removeItem(at: binary.deletingLastPathComponent()) }
    let nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups \(binary.path)"
    let script = """
      set -u
      ip link set lo up
      dir=$(mktemp -d)
      chmod 755 "$dir"
      cat > "$dir/nginx.conf" <<CONF
      user nobody nogroup;
      worker_processes 2;
      daemon off;
      pid $dir/nginx.pid;
      error_log $dir/error.log;
      events { worker_connections 16; }
      http {
        access_log off;
        client_body_temp_path $dir/body;
        proxy_temp_path $dir/proxy;
        fastcgi_temp_path $dir/fastcgi;
        uwsgi_temp_path $dir/uwsgi;
        scgi_temp_path $dir/scgi;
        server { listen 127.0.0.1:8080; }
      }
      CONF
      "\(Self.nginx ?? "nginx")" -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log" &
      master=$!
      trap 'kill -TERM $master 2>/dev/null; wait $master; rm -rf "$dir"' EXIT
      for _ in $(seq 200); do
        [ "$(pgrep -P $master | wc -l)" -ge 2 ] && ss -Hltn 'sport = :8080' | grep -q . && break
        sleep 0.05
      done
      echo "master=$master workers=$(pgrep -P $master | sort -n | paste -sd,)"
      \(nobody) who 8080 --json; echo "@@ who-json $?"
      \(nobody) who 8080; echo "@@ who $?"
      \(nobody) kill 8080 --dry-run 2>&1; echo "@@ kill-dry-run $?"
      \(nobody) free 8080 --yes --respawn-window 0 2>&1; echo "@@ free $?"
      echo "workers=$(pgrep -P $master | sort -n | paste -sd,)"
      """
    let result = try run(URL(fileURLWithPath: "/usr/bin/unshare"), ["--net", "bash", "-c", script])
    let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    let first = try #require(lines.first { $0.hasPrefix("master=") }, "\(result.stdout) \(result.stderr)")
    let master = try #require(first.split(separator: " ").first?.dropFirst("master=".count))
    let workers = String(first.split(separator: " ").last?.dropFirst("workers=".count) ?? "")
    try #require(workers.split(separator: ",").count == 2, "nginx did not start its workers: \(result.stderr)")
    /// The output of the command named `name`, and its exit status.
    func section(_ name: String) throws -> (text: String, status: Int) {
      let end = try #require(lines.firstIndex { $0.hasPrefix("@@ \(name) ") })
      let start = (lines[..<end].lastIndex { $0.hasPrefix("@@ ") || $0.hasPrefix("master=") } ?? -1) + 1
      return (lines[start..<end].joined(separator: "\n"), Int(lines[end].split(separator: " ").last ?? "") ?? -1)
    }

    let whoJSON = try section("who-json")
    #expect(whoJSON.status == 0)
    let document = try RunResult(status: 0, stdout: whoJSON.text, stderr: "").json()
    let socket = try #require(document.sockets.first)
    #expect(socket["owner"] as? String == "processes")
    #expect(socket["uid"] as? Int == 0)
    #expect(document.sockets.pids.map(String.init).joined(separator: ",") == workers)
    #expect(!document.sockets.pids.map(String.init).contains(String(master)))
    let unseen = try #require(socket["unseenHolders"] as? [String: Any])
    #expect(unseen["uid"] as? Int == 0)
    #expect(unseen["user"] as? String == "root")
    #expect(unseen["reason"] as? String == "needs-privilege")

    let who = try section("who")
    #expect(who.status == 0)
    #expect(who.text.contains("processes of root that portctl cannot see may hold it too"), "\(who.text)")

    let dryRun = try section("kill-dry-run")
    #expect(dryRun.status == 3, "\(dryRun.text)")
    #expect(dryRun.text.contains("processes of root (uid 0) that it cannot see or signal may hold it too"))
    #expect(dryRun.text.contains("sudo portctl kill 8080"))
    #expect(!dryRun.text.contains("would send"))

    let free = try section("free")
    #expect(free.status == 3, "\(free.text)")
    #expect(free.text.contains("nothing was signalled"))
    #expect(lines.contains("workers=\(workers)"), "the workers were signalled: \(result.stdout)")
  }
}
#endif
