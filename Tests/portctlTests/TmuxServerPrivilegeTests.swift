#if os(Linux)
import Foundation
import Testing

/// A tmux client obeys its server, and the server's socket path comes from the holder's own
/// environment. Root's portctl must never connect to a server another user runs: a fake
/// "tmux server" run by uid 65534 records every connection with its peer's uid.
@Suite(.serialized) struct TmuxServerPrivilegeTests {
  static let canRun =
    isRoot && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

  static let nobody = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

  static let server = """
    import os, socket, struct, sys
    path, log = sys.argv[1], sys.argv[2]
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    while True:
        connection, _ = listener.accept()
        pid, uid, gid = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        with open(log, "a") as out:
            out.write(f"pid={pid} uid={uid}\\n")
        connection.close()
    """

  @Test(.enabled(if: canRun, "needs root, setpriv and python3"))
  func rootNeverConnectsToAnotherUsersTmuxServer() throws {
    let directory = URL(fileURLWithPath: "/tmp/portctl-fake-tmux-\(getpid())")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    try FileManager.default.setAttributes(
      [.posixPermissions: 0o755, .ownerAccountID: 65534, .groupOwnerAccountID: 65534], ofItemAtPath: directory.path)
    let holderCopy = directory.appendingPathComponent("port-holder")
    // Copied by another process, so that no child forked meanwhile keeps it open for writing.
    let copied = try run(
      URL(fileURLWithPath: "/usr/bin/install"), ["-m", "755", Products.holder.path, holderCopy.path])
    try #require(copied.status == 0, "\(copied.stderr)")
    let socketPath = directory.appendingPathComponent("default").path
    let log = directory.appendingPathComponent("connections.log").path

    let fake = Process()
    fake.executableURL = URL(fileURLWithPath: Self.nobody[0])
    fake.arguments = Array(Self.nobody.dropFirst()) + ["/usr/bin/python3", "-c", Self.server, socketPath, log]
    fake.standardInput = FileHandle.nullDevice
    try fake.run()
    defer {
      // SIGKILL: a child of the test runner may inherit a mask that blocks SIGTERM.
      kill(fake.processIdentifier, SIGKILL)
      fake.waitUntilExit()
    }
    var listening = false
    for _ in 0..<300 where !listening {
      var info = stat()
      listening = lstat(socketPath, &info) == 0 && info.st_mode & S_IFMT == S_IFSOCK
      if !listening { usleep(10_000) }
    }
    try #require(listening, "the fake tmux server did not start")

    let tmux = ["TMUX": "\(socketPath),1,0", "TMUX_PANE": "%0"]
    // Another user's holder naming another user's server.
    let theirs = try Holder(
      ["tcp:127.0.0.1:0"],
      launcher: Self.nobody + ["/usr/bin/env", "TMUX=\(socketPath),1,0", "TMUX_PANE=%0", holderCopy.path])
    defer { theirs.stop() }
    // Root's own holder naming another user's server.
    let ours = try Holder(["tcp:127.0.0.1:0"], environment: tmux)
    defer { ours.stop() }
    #expect(
      (try? String(contentsOfFile: "/proc/\(theirs.pid)/status", encoding: .utf8))?.contains("Uid:\t65534") == true)

    for port in [theirs.port, ours.port] {
      let who = try portctl("who", "\(port)")
      #expect(who.status == 0, "\(who.stderr)")
      #expect(who.stdout.contains("runs in tmux pane %0 (server socket \(socketPath)); its session was not asked for"))
      let why = try portctl("why", "\(port)")
      #expect(why.status == 0)
      #expect(why.stdout.contains("managed by  runs in tmux pane %0"))
      #expect(why.stdout.contains("stop with   tmux -S \(socketPath) send-keys -t %0 C-c"))
      #expect(why.stdout.contains("evidence    self-reported: only the process's own environment says so"))
      let json = try portctl("why", "\(port)", "--json")
      #expect(json.status == 0)
      let process = try #require((try json.json().sockets.first?["processes"] as? [[String: Any]])?.first)
      let manager = try #require((process["managers"] as? [[String: Any]])?.first)
      #expect(manager["kind"] as? String == "tmux")
      #expect(manager["name"] as? String == "%0")
      #expect(manager["evidence"] as? String == "environment")
      #expect(manager["selfReported"] as? Bool == true)
      let free = try portctl("free", "\(port)", "--dry-run")
      #expect(free.status == 0, "\(free.stderr)")
    }
    let theirsWhy = try portctl("why", "\(theirs.port)")
    #expect(theirsWhy.stdout.contains("the holder runs as another user (uid 65534)"))
    let oursWhy = try portctl("why", "\(ours.port)")
    #expect(oursWhy.stdout.contains("another user can change a directory on the way to its server socket"))

    let connections = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    #expect(!connections.contains("uid=0"), "root connected to the fake server: \(connections)")
    #expect(connections.isEmpty, "the fake server was asked: \(connections)")
    #expect(fake.isRunning)
  }
}
#endif
