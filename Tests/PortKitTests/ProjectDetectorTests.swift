import Foundation
import Testing

@testable import PortKit

/// A directory tree built for one test under a fresh temporary directory (its real path),
/// removed when the test ends.
private final class FixtureTree {
  let root: String

  init() throws {
    let made = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-projects-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: made, withIntermediateDirectories: true)
    root = LocalProjectFiles().realPath(made.path) ?? made.path
  }

  deinit {
    _ = try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + "/locked")
    try? FileManager.default.removeItem(atPath: root)
  }

  /// Writes `text` at `path` (relative), creating its directories.
  @discardableResult
  func file(_ path: String, _ text: String = "") throws -> String {
    try bytes(path, Array(text.utf8))
  }

  @discardableResult
  func bytes(_ path: String, _ bytes: [UInt8]) throws -> String {
    let full = root + "/" + path
    try FileManager.default.createDirectory(
      atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(bytes).write(to: URL(fileURLWithPath: full))
    return full
  }

  @discardableResult
  func directory(_ path: String) throws -> String {
    let full = root + "/" + path
    try FileManager.default.createDirectory(atPath: full, withIntermediateDirectories: true)
    return full
  }
}

/// Files that exist only in a dictionary: every read is counted, and reading a path listed in
/// `forbidden` fails the test.
private final class FakeFiles: ProjectFiles, @unchecked Sendable {
  var contents: [String: [UInt8]] = [:]
  var directories: Set<String> = []
  let lock = NSLock()
  var readCount = 0
  var listCount = 0

  func kind(of path: String) -> ProjectFileKind? {
    if directories.contains(path) { return .directory }
    return contents[path] == nil ? nil : .file
  }

  func read(_ path: String, limit: Int) -> [UInt8]? {
    lock.withLock { readCount += 1 }
    guard let bytes = contents[path], bytes.count <= limit else { return nil }
    return bytes
  }

  func names(in path: String, limit: Int) -> [String]? {
    lock.withLock { listCount += 1 }
    guard directories.contains(path) else { return nil }
    let prefix = path == "/" ? "/" : path + "/"
    let children = (Array(contents.keys) + Array(directories)).filter {
      $0.hasPrefix(prefix) && !$0.dropFirst(prefix.count).contains("/") && $0 != path
    }
    return children.map { String($0.dropFirst(prefix.count)) }
  }

  func realPath(_ path: String) -> String? { path }
}

@Suite struct ProjectDetectorTests {
  private func detect(
    _ tree: FixtureTree, _ directory: String, commandLine: [String] = [], executable: String? = nil
  ) -> Project? {
    var detector = ProjectDetector()
    return detector.project(
      workingDirectory: tree.root + "/" + directory, commandLine: commandLine, executable: executable)
  }

  @Test(arguments: [
    "package.json", "deno.json", "Cargo.toml", "pyproject.toml", "setup.py", "requirements.txt", "Pipfile", "go.mod",
    "Package.swift", "Gemfile", "pom.xml", "build.gradle", "build.gradle.kts", "composer.json", "mix.exs",
    "pubspec.yaml", "Api.csproj", "Tool.fsproj", "App.sln",
  ])
  func eachManifestKindMarksTheRoot(marker: String) throws {
    let tree = try FixtureTree()
    try tree.file("app/\(marker)", marker.hasSuffix(".json") ? "{}" : "")
    try tree.directory("app/src/deep")
    let project = try #require(detect(tree, "app/src/deep"))
    #expect(project.root == tree.root + "/app")
    #expect(project.markers == [marker])
    #expect(project.name == "app")
    #expect(project.branch == nil && project.detachedCommit == nil)
  }

  @Test func aMarkerWithoutAProjectIsNotOne() throws {
    let tree = try FixtureTree()
    try tree.directory("loose/dir")
    try tree.directory("loose/package.json.d")
    #expect(detect(tree, "loose/dir") == nil)
  }

  @Test func gitDirectoryGivesTheBranchAndEveryMarkerAtTheRootIsListed() throws {
    let tree = try FixtureTree()
    try tree.file("repo/.git/HEAD", "ref: refs/heads/feature/x\n")
    try tree.file("repo/package.json", "{}")
    try tree.file("repo/Cargo.toml")
    let project = try #require(detect(tree, "repo"))
    #expect(project.root == tree.root + "/repo")
    #expect(project.markers == [".git", "package.json", "Cargo.toml"])
    #expect(project.branch == "feature/x")
    #expect(project.detachedCommit == nil)
  }

  @Test func nestedManifestIsTheRootAndTakesTheEnclosingRepositorysBranch() throws {
    let tree = try FixtureTree()
    try tree.file("mono/.git/HEAD", "ref: refs/heads/main\n")
    try tree.file("mono/package.json", "{}")
    try tree.file("mono/packages/web/package.json", #"{"dependencies": {"next": "14"}}"#)
    try tree.directory("mono/packages/web/src")
    try tree.directory("mono/docs")
    let web = try #require(detect(tree, "mono/packages/web/src", commandLine: ["node", "server.js"]))
    #expect(web.root == tree.root + "/mono/packages/web")
    #expect(web.markers == ["package.json"])
    #expect(web.branch == "main")
    #expect(web.framework == "Next.js")
    let docs = try #require(detect(tree, "mono/docs"))
    #expect(docs.root == tree.root + "/mono")
    #expect(docs.markers == [".git", "package.json"])
  }

  @Test func detachedHeadGivesTheAbbreviatedCommit() throws {
    let tree = try FixtureTree()
    try tree.file("repo/.git/HEAD", "0123456789abcdef0123456789abcdef01234567\n")
    let project = try #require(detect(tree, "repo"))
    #expect(project.branch == nil)
    #expect(project.detachedCommit == "0123456")
  }

  @Test func worktreeGitFileLeadsToItsOwnHead() throws {
    let tree = try FixtureTree()
    try tree.file("main/.git/HEAD", "ref: refs/heads/main\n")
    try tree.file("main/.git/worktrees/wt/HEAD", "ref: refs/heads/topic\n")
    try tree.file("wt/.git", "gitdir: \(tree.root)/main/.git/worktrees/wt\n")
    try tree.file("sub/.git", "gitdir: ../main/.git/worktrees/wt\n")
    let worktree = try #require(detect(tree, "wt"))
    #expect(worktree.root == tree.root + "/wt")
    #expect(worktree.markers == [".git"])
    #expect(worktree.branch == "topic")
    #expect(detect(tree, "sub")?.branch == "topic")
  }

  @Test func symlinkedWorkingDirectoryResolvesToTheRealRoot() throws {
    let tree = try FixtureTree()
    try tree.file("real/app/go.mod", "module example.com/app\n")
    try tree.directory("real/app/cmd")
    try FileManager.default.createSymbolicLink(
      atPath: tree.root + "/link", withDestinationPath: tree.root + "/real/app")
    let project = try #require(detect(tree, "link/cmd"))
    #expect(project.root == tree.root + "/real/app")
  }

  @Test func unreadableDirectoryStillShowsItsMarkers() throws {
    // Root reads through permissions: the fake stands in for a directory that cannot be listed.
    let files = FakeFiles()
    files.directories = ["/w", "/w/app", "/w/app/src"]
    files.contents["/w/app/Gemfile"] = Array("gem 'rails'\n".utf8)
    files.contents["/w/app/App.csproj"] = []
    // `names` fails for /w/app (not a listed directory), so markers are looked up one by one.
    files.directories.remove("/w/app")
    var detector = ProjectDetector(files: files)
    let found = detector.project(workingDirectory: "/w/app/src", commandLine: ["ruby", "bin/rails", "s"])
    let project = try #require(found)
    #expect(project.root == "/w/app")
    #expect(project.markers == ["Gemfile"])
    #expect(project.framework == "Rails")
  }

  @Test func unreadableRealDirectoryGivesNoProjectAndNoTrap() throws {
    let tree = try FixtureTree()
    try tree.file("locked/inner/package.json", "{}")
    try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: tree.root + "/locked")
    // As root the directory is still readable; otherwise nothing under it can be seen.
    let project = detect(tree, "locked/inner")
    if geteuid() == 0 {
      #expect(project?.root == tree.root + "/locked/inner")
    } else {
      #expect(project == nil)
    }
  }

  @Test func hugeOrBinaryHeadIsIgnored() throws {
    let tree = try FixtureTree()
    try tree.bytes("big/.git/HEAD", Array("ref: refs/heads/".utf8) + [UInt8](repeating: 0x61, count: 100_000))
    try tree.bytes("bin/.git/HEAD", [0x72, 0x65, 0x66, 0x3A, 0x20, 0x00, 0xFF, 0xFE, 0x1B, 0x5B, 0x32, 0x4A])
    try tree.bytes("odd/.git/HEAD", Array("ref: refs/heads/\u{1B}[2Jx\u{07}\n".utf8))
    try tree.bytes("garbage/.git/HEAD", Array("not a ref at all".utf8))
    let big = try #require(detect(tree, "big"))
    #expect(big.branch == nil && big.detachedCommit == nil)
    let binary = try #require(detect(tree, "bin"))
    #expect(binary.branch == nil && binary.detachedCommit == nil)
    let odd = try #require(detect(tree, "odd"))
    #expect(odd.branch == "\u{1B}[2Jx\u{07}")
    #expect(TerminalText.escape(odd.branch ?? "") == "\\x1b[2Jx\\x07")
    #expect(detect(tree, "garbage")?.branch == nil)
  }

  @Test func gitFileWithoutGitdirGivesNoBranch() throws {
    let tree = try FixtureTree()
    try tree.file("repo/.git", "nonsense\n")
    try tree.file("repo/Cargo.toml")
    let project = try #require(detect(tree, "repo"))
    #expect(project.markers == [".git", "Cargo.toml"])
    #expect(project.branch == nil)
  }

  @Test func walkStopsAtHomesParentAndTheLevelBound() throws {
    let files = FakeFiles()
    files.directories = ["/", "/srv", "/srv/a", "/srv/a/b", "/srv/a/b/c", "/u", "/u/me", "/u/me/x"]
    files.contents["/srv/package.json"] = Array("{}".utf8)
    files.contents["/u/package.json"] = Array("{}".utf8)
    files.contents["/package.json"] = Array("{}".utf8)
    var bounded = ProjectDetector(files: files, maxLevels: 2)
    #expect(bounded.project(workingDirectory: "/srv/a/b/c") == nil)
    var deeper = ProjectDetector(files: files, maxLevels: 3)
    #expect(deeper.project(workingDirectory: "/srv/a/b/c")?.root == "/srv")
    var home = ProjectDetector(files: files, home: "/u/me")
    #expect(home.project(workingDirectory: "/u/me/x") == nil)
    #expect(home.project(workingDirectory: "/") == nil)
    var procfs = ProjectDetector()
    #expect(procfs.project(workingDirectory: "/proc/self") == nil)
    #expect(procfs.project(workingDirectory: "relative/path") == nil)
  }

  @Test func eachDirectoryIsReadOncePerDetector() throws {
    let files = FakeFiles()
    files.directories = ["/p", "/p/app", "/p/app/.git"]
    files.contents["/p/app/.git/HEAD"] = Array("ref: refs/heads/main\n".utf8)
    files.contents["/p/app/package.json"] = Array(#"{"devDependencies": {"vite": "5"}}"#.utf8)
    var detector = ProjectDetector(files: files)
    for _ in 0..<5 {
      let project = detector.project(workingDirectory: "/p/app", commandLine: ["node", "server.js"])
      #expect(project?.framework == "Vite")
      #expect(project?.branch == "main")
    }
    // HEAD once and package.json once, one listing of /p/app.
    #expect(files.readCount == 2)
    #expect(files.listCount == 1)
  }

  @Test(arguments: [
    (["node", "/app/node_modules/.bin/vite", "--port", "5173"], "Vite"),
    (["node", "/app/node_modules/next/dist/bin/next", "dev"], "Next.js"),
    (["next", "dev"], "Next.js"),
    (["node", "/app/node_modules/nuxi/bin/nuxi.mjs", "dev"], "Nuxt"),
    (["ng", "serve"], "Angular"),
    (["python3", "manage.py", "runserver", "0.0.0.0:8000"], "Django"),
    (["/usr/bin/python3", "-m", "flask", "run"], "Flask"),
    (["/venv/bin/flask", "run"], "Flask"),
    (["/venv/bin/python", "/venv/bin/uvicorn", "main:app"], "Uvicorn"),
    (["fastapi", "dev", "main.py"], "FastAPI"),
    (["gunicorn: master [app:app]"], "Gunicorn"),
    (["/venv/bin/gunicorn", "-w", "2", "app:app"], "Gunicorn"),
    (["bin/rails", "server"], "Rails"),
    (["puma 6.4.0 (tcp://0.0.0.0:3000) [app]"], "Puma"),
    (["java", "-jar", "target/demo-0.0.1.jar", "org.springframework.boot.loader.launch.JarLauncher"], "Spring Boot"),
    (["mvn", "spring-boot:run"], "Spring Boot"),
    (["mix", "phx.server"], "Phoenix"),
    (["hugo", "server", "-D"], "Hugo"),
    (["bundle", "exec", "jekyll", "serve"], "Jekyll"),
  ])
  func commandLineNamesTheFramework(commandLine: [String], framework: String) {
    #expect(ProjectDetector.framework(commandLine: commandLine) == framework)
  }

  @Test(arguments: [["node", "server.js"], ["python3", "-m", "http.server"], ["next"], ["ng", "build"], []])
  func plainCommandLinesNameNoFramework(commandLine: [String]) {
    #expect(ProjectDetector.framework(commandLine: commandLine) == nil)
  }

  @Test func manifestFrameworkNeedsTheManifestsRuntime() throws {
    let tree = try FixtureTree()
    try tree.file("web/package.json", #"{"name": "web", "dependencies": {"express": "^4", "left-pad": {"x": 1}}}"#)
    try tree.file("py/requirements.txt", "Django==5.0\n")
    try tree.file("ex/mix.exs", "{:phoenix, \"~> 1.7\"}")
    try tree.file("sw/Package.swift", #".package(url: "https://github.com/vapor/vapor.git", from: "4.0.0")"#)
    try tree.file("java/pom.xml", "<artifactId>spring-boot-starter-web</artifactId>")
    try tree.file("bad/package.json", "{ not json")
    #expect(detect(tree, "web", commandLine: ["node", "index.js"])?.framework == "Express")
    #expect(detect(tree, "web", commandLine: ["python3", "-m", "http.server"])?.framework == nil)
    #expect(detect(tree, "py", commandLine: ["python3", "serve.py"])?.framework == "Django")
    #expect(detect(tree, "ex", commandLine: ["/usr/lib/erlang/erts/bin/beam.smp", "--"])?.framework == "Phoenix")
    #expect(
      detect(
        tree, "sw", commandLine: [tree.root + "/sw/.build/debug/App"], executable: tree.root + "/sw/.build/debug/App")?
        .framework == "Vapor")
    #expect(detect(tree, "sw", commandLine: ["/usr/bin/other"])?.framework == nil)
    #expect(detect(tree, "java", commandLine: ["java", "-jar", "app.jar"])?.framework == "Spring Boot")
    #expect(detect(tree, "bad", commandLine: ["node", "x.js"])?.framework == nil)
  }

  @Test func projectsForProcessesUsesTheRecordsWorkingDirectory() async throws {
    let tree = try FixtureTree()
    try tree.file("repo/.git/HEAD", "ref: refs/heads/feature/x\n")
    try tree.file("repo/package.json", #"{"dependencies": {"express": "4"}}"#)
    try tree.directory("elsewhere")
    let inside = ProcessRecord(
      pid: 10, ppid: 1, name: "node", commandLine: ["node", "a.js"], workingDirectory: tree.root + "/repo")
    let outside = ProcessRecord(pid: 11, ppid: 1, name: "node", workingDirectory: tree.root + "/elsewhere")
    let unknown = ProcessRecord(pid: 12, ppid: 1, name: "x")
    let system = System(
      backend: .procfs, source: NoSource(), control: nil, binder: nil, runner: SubprocessRunner(),
      host: HostFacts(effectiveUID: 0, now: { 0 }))
    let projects = await PortInspection(system: system).projects(for: [inside, outside, unknown])
    #expect(Set(projects.keys) == [10])
    #expect(
      projects[10]
        == Project(
          root: tree.root + "/repo", markers: [".git", "package.json"], branch: "feature/x", framework: "Express"))
  }
}

private struct NoSource: SystemSource {
  func snapshot(for query: SocketQuery) async throws(PortKitError) -> SystemSnapshot {
    SystemSnapshot(sockets: [], effectiveUID: 0, takenAt: 0)
  }
}
