#if os(Linux)
import Foundation
import Testing

/// `--host` against a real sshd started on 127.0.0.1 for each test (root logins with a key
/// made for it): the built portctl reads and signals through `ssh` exactly as it would another
/// machine, and the holders are real processes this test started.
@Suite(.serialized) struct RemoteHostTests {
  static let required = ProcessInfo.processInfo.environment["CI"] == "true"
  static let canRun = isRoot && Programs.installed("/usr/sbin/sshd", "/usr/bin/ssh", "/usr/bin/ssh-keygen")
  static let canRunClient = Programs.installed("/usr/bin/ssh", "/usr/bin/ssh-keygen")

  /// A local sshd on a free port of 127.0.0.1 that lets root in with `id`.
  final class LoopbackSSHD: @unchecked Sendable {
    let directory: URL
    let sshd: Spawned
    let port: UInt16

    init() throws {
      let dir = try RealServers.directory("remote-sshd")
      directory = dir
      (sshd, port) = try RealServers.loopbackSSHD(in: dir, extraKeys: ["stranger"])
    }

    /// `--host root@127.0.0.1` and the ssh options that reach this sshd with `key`.
    func hostArguments(key: String = "id") -> [String] {
      [
        "--host", "root@127.0.0.1", "--ssh-option", "Port=\(port)", "--ssh-option",
        "IdentityFile=\(directory.path)/\(key)", "--ssh-option", "IdentitiesOnly=yes", "--ssh-option",
        "StrictHostKeyChecking=no", "--ssh-option", "UserKnownHostsFile=/dev/null",
      ]
    }

    deinit {
      sshd.stop(SIGTERM)
      try? FileManager.default.removeItem(at: directory)
    }
  }

  private func sshd() throws -> LoopbackSSHD {
    try #require(Self.canRun, "needs root, sshd, ssh and ssh-keygen (required under CI)")
    return try LoopbackSSHD()
  }

  /// `who P --host` names the exact holder, read through /proc over ssh and through lsof over
  /// ssh alike, and the document names the host; locally `host` is null.
  @Test(.enabled(if: canRun || required, "needs root, sshd, ssh and ssh-keygen"))
  func whoNamesTheExactHolder() throws {
    let server = try sshd()
    let holder = try Holder("tcp:127.0.0.1:0")
    defer { holder.stop() }
    for backend in ["auto", "lsof"] {
      let who = try portctl(
        ["who", "\(holder.port)", "--json", "--backend", backend] + server.hostArguments())
      #expect(who.status == 0, "\(backend): \(who.stdout)\(who.stderr)")
      let document = try who.json()
      #expect(document["host"] as? String == "root@127.0.0.1")
      #expect(document["held"] as? Bool == true)
      #expect(document.sockets.pids == [Int(holder.pid)], "\(backend): \(who.stdout)")
    }
    let text = try portctl(["who", "\(holder.port)"] + server.hostArguments())
    #expect(text.status == 0)
    #expect(text.stdout.contains(" \(holder.pid) "), "\(text.stdout)")
    #expect(text.stdout.contains("port-holder"), "\(text.stdout)")
    let local = try portctl("who", "\(holder.port)", "--json")
    #expect(try local.json()["host"] is NSNull, "\(local.stdout)")
  }

  /// `list --host` lists the remote listeners with their holders; `why --host` names the
  /// holder's parent (this test process); `check --host` says the port cannot be bound,
  /// held by the holder, decided from the socket table (no bind there).
  @Test(.enabled(if: canRun || required, "needs root, sshd, ssh and ssh-keygen"))
  func listWhyAndCheck() throws {
    let server = try sshd()
    let holder = try Holder("tcp:127.0.0.1:0", "udp:127.0.0.1:0")
    defer { holder.stop() }
    let list = try portctl(["list", "--json"] + server.hostArguments())
    #expect(list.status == 0, "\(list.stderr)")
    let document = try list.json()
    #expect(document["host"] as? String == "root@127.0.0.1")
    let mine = document.sockets.filter {
      ($0["processes"] as? [[String: Any]] ?? []).contains { $0["pid"] as? Int == Int(holder.pid) }
    }
    #expect(Set(mine.compactMap { $0["localPort"] as? Int }) == Set(holder.ports.map(Int.init)), "\(mine)")
    #expect(Set(mine.compactMap { $0["protocol"] as? String }) == ["tcp", "udp"], "\(mine)")
    // The sshd holding the test's own port shows too.
    #expect(document.sockets.pids.contains(Int(server.sshd.pid)))

    let why = try portctl(["why", "\(holder.ports[0])", "--json"] + server.hostArguments())
    #expect(why.status == 0, "\(why.stderr)")
    let processes = try why.json().sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
    #expect(processes.map { $0["pid"] as? Int } == [Int(holder.pid)])
    #expect(processes.first?["ppid"] as? Int == Int(getpid()), "\(processes)")

    let check = try portctl(["check", "tcp:\(holder.ports[0])", "--json"] + server.hostArguments())
    #expect(check.status == 1, "\(check.stdout + check.stderr)")
    let checks = try check.json()["checks"] as? [[String: Any]] ?? []
    let reasons = checks.flatMap { $0["reasons"] as? [[String: Any]] ?? [] }
    #expect(reasons.contains { $0["code"] as? String == "held" && ($0["pids"] as? [Int]) == [Int(holder.pid)] })
    // The commands it suggests act on the same machine.
    let message = reasons.first?["message"] as? String ?? ""
    #expect(message.contains("(portctl free \(holder.ports[0]) --host root@127.0.0.1)"), "\(message)")
    let notes = checks.flatMap { $0["notes"] as? [[String: Any]] ?? [] }
    #expect(notes.contains { $0["code"] as? String == "unprobed" })
    holder.stop()
    let after = try portctl(["check", "tcp:\(holder.ports[0])"] + server.hostArguments())
    #expect(after.status == 0, "\(after.stdout + after.stderr)")
  }

  /// `free P --host … --yes` stops the real holder through ssh and proves the port free from
  /// the remote socket table (`free-unprobed`: no bind is made there); `kill --backend lsof`
  /// does the same through the lsof reading (its start-time guard is `ps -o lstart=`).
  @Test(.enabled(if: canRun || required, "needs root, sshd, ssh and ssh-keygen"))
  func freeStopsTheHolder() throws {
    let server = try sshd()
    let holder = try Holder("tcp:127.0.0.1:0")
    defer { holder.stop() }
    let free = try portctl(["free", "\(holder.port)", "--yes", "--json"] + server.hostArguments())
    #expect(free.status == 0, "\(free.stdout + free.stderr)")
    let document = try free.json()
    #expect(document["host"] as? String == "root@127.0.0.1")
    #expect(document["freed"] as? Bool == true)
    let targets = document["targets"] as? [[String: Any]] ?? []
    #expect(targets.map { $0["pid"] as? Int } == [Int(holder.pid)])
    #expect(targets.first?["outcome"] as? String == "exited", "\(targets)")
    let ports = document["ports"] as? [[String: Any]] ?? []
    #expect(ports.map { $0["verdict"] as? String } == ["free-unprobed"], "\(ports)")
    #expect(eventually(5) { !isAlive(holder.pid) }, "the holder is still alive")
    #expect(!loopbackTaken(holder.port))

    let other = try Holder("tcp:127.0.0.1:0")
    defer { other.stop() }
    let kill = try portctl(
      ["kill", "\(other.port)", "--yes", "--backend", "lsof"] + server.hostArguments())
    #expect(kill.status == 0, "\(kill.stdout + kill.stderr)")
    #expect(kill.stdout.contains("\(other.pid)"), "\(kill.stdout)")
    #expect(eventually(5) { !isAlive(other.pid) }, "the lsof-read holder is still alive")
  }

  /// Without --yes and without a terminal, `free --host` refuses as it does locally: exit 4,
  /// the targets listed on standard error, nothing signalled. `--dry-run` signals nothing
  /// either.
  @Test(.enabled(if: canRun || required, "needs root, sshd, ssh and ssh-keygen"))
  func consentIsRefusedWithoutYes() throws {
    let server = try sshd()
    let holder = try Holder("tcp:127.0.0.1:0")
    defer { holder.stop() }
    let free = try portctl(["free", "\(holder.port)"] + server.hostArguments())
    #expect(free.status == 4, "\(free.stdout + free.stderr)")
    #expect(free.stderr.contains("refusing to signal without consent"), "\(free.stderr)")
    #expect(free.stderr.contains("\(holder.pid)"), "\(free.stderr)")
    let json = try portctl(["kill", "\(holder.port)", "--json"] + server.hostArguments())
    #expect(json.status == 4)
    #expect(try json.json()["host"] as? String == "root@127.0.0.1")
    let dry = try portctl(["kill", "\(holder.port)", "--dry-run"] + server.hostArguments())
    #expect(dry.status == 0, "\(dry.stdout + dry.stderr)")
    usleep(300_000)
    #expect(isAlive(holder.pid), "the holder was signalled without consent")
    #expect(loopbackTaken(holder.port))
  }

  /// The remote shell's ancestors (the sshd serving portctl, and its listener) are never
  /// signalled: freeing sshd's own port is refused.
  @Test(.enabled(if: canRun || required, "needs root, sshd, ssh and ssh-keygen"))
  func theServingSSHDIsProtected() throws {
    let server = try sshd()
    let free = try portctl(["kill", "\(server.port)", "--yes", "--json"] + server.hostArguments())
    #expect(free.status == 4, "\(free.stdout + free.stderr)")
    let protected = try free.json()["protected"] as? [[String: Any]] ?? []
    #expect(protected.contains { $0["pid"] as? Int == Int(server.sshd.pid) }, "\(free.stdout)")
    #expect(isAlive(server.sshd.pid))
  }

  /// A host nothing answers on, and a key the server does not accept: exit 2 with a message
  /// that says which, in text and in the JSON error document (which names the host).
  @Test(.enabled(if: canRunClient || required, "needs ssh and ssh-keygen"))
  func unreachableHostAndRefusedLogin() throws {
    try #require(Self.canRunClient, "needs ssh and ssh-keygen (required under CI)")
    let closed = try portFreeEverywhere()
    let options = [
      "--host", "root@127.0.0.1", "--ssh-option", "Port=\(closed)", "--ssh-option", "StrictHostKeyChecking=no",
      "--ssh-option", "UserKnownHostsFile=/dev/null",
    ]
    let who = try portctl(["who", "80"] + options)
    #expect(who.status == 2)
    #expect(who.stdout.isEmpty)
    #expect(who.stderr.contains("Could not reach root@127.0.0.1 over ssh"), "\(who.stderr)")
    #expect(who.stderr.contains("Connection refused"), "\(who.stderr)")
    let json = try portctl(["free", "80", "--yes", "--json"] + options)
    #expect(json.status == 2)
    let document = try json.json()
    #expect(document["host"] as? String == "root@127.0.0.1")
    #expect((document["error"] as? [String: Any])?["code"] as? String == "remote-unreachable", "\(json.stdout)")

    guard Self.canRun else { return }
    let server = try LoopbackSSHD()
    let refused = try portctl(["list"] + server.hostArguments(key: "stranger"))
    #expect(refused.status == 2)
    #expect(refused.stderr.contains("ssh could not log in to root@127.0.0.1"), "\(refused.stderr)")
    #expect(refused.stderr.contains("BatchMode=yes"), "\(refused.stderr)")
  }

  /// A holder whose argv[0], process name and working directory carry newlines, the
  /// script's own marker lines and terminal escapes: over ssh it is still one process with
  /// its exact pid, command line and directory (JSON), shown escaped (text), and no process
  /// or user is forged.
  @Test(.enabled(if: (canRun && Programs.installed(Programs.python)) || required, "needs root, sshd, ssh, python3"))
  func untrustedTextCannotForgeTheRemoteOutput() throws {
    let server = try sshd()
    let forged = "evil\n@pid 1\n@uid 0\n@end\n@user 0 mallory\n\u{1B}[2J\u{1B}[31mred"
    let name = "ev) R 1 1\n@pid 1"
    let directory = server.directory.appendingPathComponent("cwd\n@procs\n@pid 1\u{1B}]0;t\u{07}")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let program = server.directory.appendingPathComponent(name).path
    let copied = try run(URL(fileURLWithPath: "/usr/bin/install"), ["-m", "755", Products.holder.path, program])
    try #require(copied.status == 0, "\(copied.stderr)")
    let script = """
      import os, sys
      exe, cwd, argv0 = (bytes.fromhex(a) for a in sys.argv[1:4])
      os.chdir(cwd)
      os.execv(exe, [argv0] + [a.encode() for a in sys.argv[4:]])
      """
    func hex(_ text: String) -> String { Array(text.utf8).map { String(format: "%02x", $0) }.joined() }
    let holder = try Holder(
      ["tcp:127.0.0.1:0"],
      launcher: [Programs.python, "-c", script, hex(program), hex(directory.path), hex(forged)])
    defer { holder.stop() }

    let who = try portctl(["who", "\(holder.port)", "--json"] + server.hostArguments())
    #expect(who.status == 0, "\(who.stderr)")
    let processes = try who.json().sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
    #expect(processes.map { $0["pid"] as? Int } == [Int(holder.pid)])
    let process = try #require(processes.first)
    #expect((process["commandLine"] as? [String])?.first == forged)
    #expect(process["cwd"] as? String == directory.path)
    #expect(process["user"] as? String == "root")
    #expect(process["ppid"] as? Int == Int(getpid()))

    let text = try portctl(["who", "\(holder.port)"] + server.hostArguments())
    #expect(text.status == 0)
    #expect(!text.stdout.contains("\u{1B}"), "\(text.stdout)")
    #expect(text.stdout.contains(#"evil\n@pid 1\n@uid 0"#), "\(text.stdout)")
    // Its start time is still read right (the name's newline does not split `stat`): it is
    // signalled, not taken for a reused pid.
    let free = try portctl(["free", "\(holder.port)", "--yes", "--json"] + server.hostArguments())
    #expect(free.status == 0, "\(free.stdout)\(free.stderr)")
    let targets = try free.json()["targets"] as? [[String: Any]] ?? []
    #expect(targets.map { $0["outcome"] as? String } == ["exited"], "\(targets)")
    #expect(eventually(5) { !isAlive(holder.pid) })
  }

  /// Bad --host values are usage errors (64), and --ssh-option needs --host.
  @Test func usageErrors() throws {
    #expect(try portctl("who", "80", "--host=-oProxyCommand=touch /tmp/x").status == 64)
    #expect(try portctl("who", "80", "--host", "a b").status == 64)
    #expect(try portctl("who", "80", "--ssh-option", "Port=2").status == 64)
    #expect(try portctl("free", "--project", "/tmp", "--host", "h").status == 64)
  }
}
#endif
