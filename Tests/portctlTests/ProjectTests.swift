#if os(Linux)
import Foundation
import Testing

/// Projects end to end: real node and Python servers started inside temporary projects (a git
/// repository on branch `feature/x` with a package.json naming Express, and a plain one beside
/// it), seen by `who`, `list`, `why` and acted on by `list/kill/free --project`.
@Suite(.serialized) struct ProjectTests {
  static let git = "/usr/bin/git"
  static let canRun =
    Programs.installed(Programs.node, Programs.python, git, "/usr/bin/script", "/usr/bin/env")
    || ProcessInfo.processInfo.environment["CI"] == "true"

  /// Two projects side by side under one temporary directory (real paths): `app`, a git
  /// repository on `feature/x` whose package.json depends on Express, and `other`, a
  /// package.json only. Removed at the end.
  final class Projects {
    let parent: String
    var app: String { parent + "/app" }
    var other: String { parent + "/other" }
    let script: String

    init() throws {
      let made = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-proj-\(UUID().uuidString)")
      try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
      let parent = try FileManager.default.destinationOfSymbolicLinkOrSelf(made.path)
      let (app, other) = (parent + "/app", parent + "/other")
      self.parent = parent
      script = parent + "/serve.js"
      for directory in [app + "/server", other] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      }
      let initialized = try run(
        URL(fileURLWithPath: ProjectTests.git), ["-C", app, "init", "-q", "-b", "main"])
      try #require(initialized.status == 0, "git init: \(initialized.stderr)")
      let branched = try run(URL(fileURLWithPath: ProjectTests.git), ["-C", app, "checkout", "-q", "-b", "feature/x"])
      try #require(branched.status == 0, "git checkout: \(branched.stderr)")
      try #"{"name": "app", "dependencies": {"express": "^4.19.2"}}"#.write(
        toFile: app + "/package.json", atomically: true, encoding: .utf8)
      try #"{"name": "other"}"#.write(toFile: other + "/package.json", atomically: true, encoding: .utf8)
      // A plain node HTTP server on a kernel-chosen loopback port that prints port-holder's
      // ready line and exits when its input closes.
      try """
      const http = require('http');
      const server = http.createServer((request, response) => response.end('ok'));
      server.listen(0, '127.0.0.1', () => {
        process.stdout.write(`ready pid=${process.pid} ports=${server.address().port} children=\\n`);
      });
      process.stdin.on('end', () => process.exit(0));
      process.stdin.resume();
      """.write(toFile: script, atomically: true, encoding: .utf8)
    }

    /// A node server whose working directory is `directory`.
    func node(in directory: String) throws -> Holder {
      try Holder([], launcher: ["/usr/bin/env", "-C", directory, Programs.node, script])
    }

    deinit { try? FileManager.default.removeItem(atPath: parent) }
  }

  /// A Python http.server on `port` with its working directory in `directory`.
  static func python(in directory: String) throws -> (Spawned, UInt16) {
    let port = try portFreeEverywhere()
    let server = try Spawned(
      "/usr/bin/env", ["-C", directory, Programs.python, "-m", "http.server", "\(port)", "--bind", "127.0.0.1"])
    try #require(eventually { loopbackTaken(port) }, "http.server did not listen on \(port)")
    return (server, port)
  }

  private func processes(_ document: [String: Any]) -> [[String: Any]] {
    document.sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
  }

  @Test(.enabled(if: canRun, "needs node, python3, git, script(1) and env -C"))
  func whoListAndWhyShowTheProjectBranchAndFramework() throws {
    let projects = try Projects()
    let holder = try projects.node(in: projects.app + "/server")
    defer { holder.stop() }

    let who = try portctl("who", "\(holder.port)", "--json")
    #expect(who.status == 0, "\(who.stderr)")
    let process = try #require(processes(try who.json()).first { $0["pid"] as? Int == Int(holder.pid) })
    let project = try #require(process["project"] as? [String: Any], "\(who.stdout)")
    #expect(project["root"] as? String == projects.app)
    #expect(project["name"] as? String == "app")
    #expect(project["markers"] as? [String] == [".git", "package.json"])
    #expect(project["branch"] as? String == "feature/x")
    #expect(project["detachedCommit"] is NSNull)
    #expect(project["framework"] as? String == "Express")

    let whoText = try portctl("who", "\(holder.port)")
    #expect(
      whoText.stdout.contains(
        "node (pid \(holder.pid)): project app on branch feature/x, Express (.git, package.json in \(projects.app))"),
      "\(whoText.stdout)")

    let list = try portctl("list", "--tcp")
    #expect(list.status == 0)
    let lines = list.stdout.split(separator: "\n").map(String.init)
    let header = try #require(lines.first)
    #expect(header.contains("UPTIME  PROJECT") && header.hasSuffix("COMMAND"), "\(header)")
    let row = try #require(lines.first { $0.contains("127.0.0.1:\(holder.port) ") }, "\(list.stdout)")
    #expect(row.contains("app (feature/x)"), "\(row)")
    let column = try #require(header.range(of: "PROJECT")).lowerBound.utf16Offset(in: header)
    #expect(row.dropFirst(column).hasPrefix("app (feature/x)"), "\(header)\n\(row)")

    let listJSON = try portctl("list", "--tcp", "--json")
    let listed = try #require(processes(try listJSON.json()).first { $0["pid"] as? Int == Int(holder.pid) })
    #expect((listed["project"] as? [String: Any])?["branch"] as? String == "feature/x")

    let whyJSON = try portctl("why", "\(holder.port)", "--json")
    let explained = try #require(processes(try whyJSON.json()).first { $0["pid"] as? Int == Int(holder.pid) })
    #expect((explained["project"] as? [String: Any])?["root"] as? String == projects.app)

    let why = try portctl("why", "\(holder.port)")
    #expect(
      why.stdout.contains("    project app on branch feature/x, Express (.git, package.json in \(projects.app))"),
      "\(why.stdout)")
  }

  /// The lsof backend (macOS's, run here) reads no working directory with the sockets: they
  /// are read for the holders shown, with one `lsof -d cwd` run.
  @Test(.enabled(if: canRun && Programs.installed("/usr/bin/lsof"), "needs lsof, node, git and env -C"))
  func lsofBackendReadsTheWorkingDirectoriesToo() throws {
    let projects = try Projects()
    let holder = try projects.node(in: projects.app + "/server")
    defer { holder.stop() }
    let who = try portctl("who", "\(holder.port)", "--backend", "lsof", "--json")
    #expect(who.status == 0, "\(who.stderr)")
    let process = try #require(processes(try who.json()).first { $0["pid"] as? Int == Int(holder.pid) })
    let project = try #require(process["project"] as? [String: Any], "\(who.stdout)")
    #expect(project["root"] as? String == projects.app)
    #expect(project["branch"] as? String == "feature/x")
    #expect(project["framework"] as? String == "Express")
    let list = try portctl("list", "--backend", "lsof", "--tcp")
    let row = try #require(list.stdout.split(separator: "\n").first { $0.contains("127.0.0.1:\(holder.port) ") })
    #expect(row.contains("app (feature/x)"), "\(row)")
  }

  @Test(.enabled(if: canRun, "needs node, python3, git, script(1) and env -C"))
  func listProjectShowsExactlyTheProjectsListeners() throws {
    let projects = try Projects()
    let inside = try projects.node(in: projects.app + "/server")
    defer { inside.stop() }
    let (python, pythonPort) = try Self.python(in: projects.app)
    defer { python.stop() }
    let outside = try projects.node(in: projects.other)
    defer { outside.stop() }

    for directory in [projects.app, projects.app + "/server", projects.parent] {
      let listed = try portctl("list", "--project", directory, "--json")
      #expect(listed.status == 0, "\(listed.stderr)")
      let pids = Set(processes(try listed.json()).compactMap { $0["pid"] as? Int })
      let expected =
        directory == projects.parent
        ? [Int(inside.pid), Int(python.pid), Int(outside.pid)] : [Int(inside.pid), Int(python.pid)]
      #expect(pids == Set(expected), "\(directory): \(listed.stdout)")
    }
    let text = try portctl("list", "--project", projects.app)
    #expect(text.stdout.contains("127.0.0.1:\(inside.port) "))
    #expect(text.stdout.contains("127.0.0.1:\(pythonPort) "))
    #expect(!text.stdout.contains("127.0.0.1:\(outside.port) "))

    let empty = projects.parent + "/idle"
    try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
    try "".write(toFile: empty + "/go.mod", atomically: true, encoding: .utf8)
    let nothing = try portctl("list", "--project", empty)
    #expect(nothing.status == 1)
    #expect(nothing.stdout == "nothing listens in project \(empty)\n", "\(nothing.stdout)")

    let missing = try portctl("list", "--project", projects.parent + "/missing")
    #expect(missing.status == 64)
    #expect(missing.stderr.contains("--project takes a directory"), "\(missing.stderr)")
  }

  @Test(.enabled(if: canRun, "needs node, python3, git, script(1) and env -C"))
  func freeProjectYesStopsExactlyTheProjectsHolders() throws {
    let projects = try Projects()
    let inside = try projects.node(in: projects.app + "/server")
    defer { inside.stop() }
    let (python, pythonPort) = try Self.python(in: projects.app)
    defer { python.stop() }
    let outside = try projects.node(in: projects.other)
    defer { outside.stop() }

    let freed = try portctl("free", "--project", projects.app, "--yes", "--json")
    #expect(freed.status == 0, "\(freed.stdout)\n\(freed.stderr)")
    let document = try freed.json()
    let targets = document["targets"] as? [[String: Any]] ?? []
    #expect(Set(targets.compactMap { $0["pid"] as? Int }) == [Int(inside.pid), Int(python.pid)], "\(freed.stdout)")
    inside.process.waitUntilExit()
    #expect(python.exitStatus(within: 10) != nil, "http.server \(python.pid) is still running")
    #expect(!isAlive(inside.pid))
    #expect(canBindLoopback(inside.port) && canBindLoopback(pythonPort))
    #expect(isAlive(outside.pid), "the holder outside the project was stopped")
    #expect(loopbackTaken(outside.port))

    // Nothing of the project listens any more.
    let again = try portctl("kill", "--project", projects.app, "--yes")
    #expect(again.status == 1)
    #expect(again.stdout == "nothing listens in project \(projects.app)\n", "\(again.stdout)")
  }

  @Test(.enabled(if: canRun, "needs node, python3, git, script(1) and env -C"))
  func freeProjectAsksOnceForAllItsHoldersOnATerminal() throws {
    let projects = try Projects()
    let first = try projects.node(in: projects.app)
    defer { first.stop() }
    let second = try projects.node(in: projects.app + "/server")
    defer { second.stop() }
    let outside = try projects.node(in: projects.other)
    defer { outside.stop() }

    let refused = try onPseudoTerminal(
      "cd \(projects.app)/server && \(Products.portctl.path) kill --project .", answering: "n")
    #expect(refused.status == 4, "\(refused.stdout)")
    #expect(isAlive(first.pid) && isAlive(second.pid))

    let result = try onPseudoTerminal(
      "\(Products.portctl.path) free --project \(projects.app) --respawn-window 0", answering: "y")
    let output = result.stdout
    #expect(result.status == 0, "\(output)")
    #expect(output.components(separatedBy: "[y/N]").count == 2, "one question: \(output)")
    #expect(
      output.contains("portctl free: these processes hold the listeners of project \(projects.app):"), "\(output)")
    #expect(output.contains("\(first.port)/tcp is free") && output.contains("\(second.port)/tcp is free"), "\(output)")
    #expect(output.contains("Send SIGTERM, then SIGKILL after 5 s? [y/N]"), "\(output)")
    #expect(output.contains("\(first.pid)") && output.contains("\(second.pid)"), "\(output)")
    #expect(!output.contains("\(outside.pid)"), "\(output)")
    first.process.waitUntilExit()
    second.process.waitUntilExit()
    #expect(isAlive(outside.pid))
  }

  @Test(.enabled(if: canRun, "needs node, python3, git, script(1) and env -C"))
  func projectWithPortsActsOnTheirIntersection() throws {
    let projects = try Projects()
    let inside = try projects.node(in: projects.app)
    defer { inside.stop() }
    let outside = try projects.node(in: projects.other)
    defer { outside.stop() }

    let listed = try portctl("list", "--project", projects.app, "\(outside.port)")
    #expect(listed.status == 64, "list takes no ports: \(listed.stdout)")

    let notOurs = try portctl("free", "--project", projects.app, "\(outside.port)", "--yes")
    #expect(notOurs.status == 1, "\(notOurs.stdout)")
    #expect(notOurs.stdout == "nothing listens in project \(projects.app)\n", "\(notOurs.stdout)")
    #expect(isAlive(outside.pid))

    let ours = try portctl("kill", "--project", projects.app, "\(inside.port)", "\(outside.port)", "--yes")
    #expect(ours.status == 0, "\(ours.stdout)\n\(ours.stderr)")
    inside.process.waitUntilExit()
    #expect(isAlive(outside.pid), "the holder outside the project was stopped")
  }
}

extension FileManager {
  /// `path` with its symbolic links resolved.
  fileprivate func destinationOfSymbolicLinkOrSelf(_ path: String) throws -> String {
    URL(fileURLWithPath: path).resolvingSymlinksInPath().path
  }
}
#endif
