#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Finds the project a process runs in from its working directory, reading only through a
/// ``ProjectFiles`` seam (no `git` process, no unbounded read).
///
/// The rules:
/// - The search starts at the working directory (its real path, symbolic links resolved) and
///   walks up at most ``maxLevels`` directories. It never looks at the file-system root, at
///   `/home` or `/Users`, at the parent of the home directory it was given, nor anywhere under
///   `/proc`, `/sys` or `/dev`: a process whose working directory is `/` or a home directory
///   with no marker has no project.
/// - The project root is the nearest directory holding a marker (``markerNames``, or a file
///   ending in ``markerSuffixes``). Every marker found there is listed.
/// - The branch comes from the nearest `.git` at or above the root (so a `package.json` inside
///   a git repository is its own project, on the repository's branch). `.git` is a directory,
///   or a file `gitdir: PATH` (worktrees, submodules) whose target holds `HEAD`. `HEAD` is read
///   with a bound (1 KiB): `ref: refs/heads/NAME` is branch NAME, another `ref:` is shown as
///   the ref, a bare commit id is a detached HEAD (its first 7 hex digits); anything else is
///   ignored.
/// - The framework comes from the command line when it names it plainly (``framework(commandLine:)``),
///   else from the root's manifest dependencies when the process runs that manifest's runtime.
///
/// One detector caches what it read per directory: make one per command.
public struct ProjectDetector: Sendable {
  /// File names that mark a project root.
  public static let markerNames: [String] = [
    ".git", "package.json", "deno.json", "deno.jsonc", "Cargo.toml", "pyproject.toml", "setup.py", "requirements.txt",
    "Pipfile", "go.mod", "Package.swift", "Gemfile", "pom.xml", "build.gradle", "build.gradle.kts", "composer.json",
    "mix.exs", "pubspec.yaml",
  ]
  /// File name endings that mark a project root (.NET projects and solutions).
  public static let markerSuffixes: [String] = [".csproj", ".fsproj", ".vbproj", ".sln"]

  /// How big a manifest may be to be read.
  public static let manifestLimit = 1 << 20
  /// How big `HEAD` or a `.git` file may be to be read.
  public static let headLimit = 1024
  /// How many names a directory may hold to be listed (above that, markers are looked up one
  /// by one and suffix markers are not seen).
  public static let listingLimit = 4096

  /// The file system read.
  public var files: any ProjectFiles
  /// Directories the walk stops at, never looked at.
  public var stops: Set<String>
  /// How many directories above the working directory are looked at, at most.
  public var maxLevels: Int

  private var bases: [String: Base?] = [:]
  private var manifestFrameworks: [String: [Runtime: String]] = [:]
  /// Answers already given: a server's thousand workers share one working directory and one
  /// command line, and matching a command line against the frameworks is the costly part.
  private var answers: [Question: Project?] = [:]

  private struct Question: Hashable {
    var workingDirectory: String
    var commandLine: [String]
    var executable: String?
  }

  /// What a directory's project is without the framework (which depends on the process).
  private struct Base: Sendable {
    var root: String
    var markers: [String]
    var branch: String?
    var detachedCommit: String?
  }

  /// A detector reading `files`; the walk stops below `home`'s parent when `home` is given.
  public init(files: any ProjectFiles = LocalProjectFiles(), home: String? = nil, maxLevels: Int = 32) {
    self.files = files
    var stops: Set<String> = ["/", "/home", "/Users"]
    if let home, home.hasPrefix("/"), let parent = Self.parent(of: Self.normalized(home)) { stops.insert(parent) }
    self.stops = stops
    self.maxLevels = maxLevels
  }

  /// The project of a process working in `workingDirectory` and running `commandLine`
  /// (`executable`, its binary, tells apart a program built in the project); `nil` when no
  /// marker is found within the bounds.
  public mutating func project(
    workingDirectory: String, commandLine: [String] = [], executable: String? = nil
  ) -> Project? {
    let question = Question(workingDirectory: workingDirectory, commandLine: commandLine, executable: executable)
    if let known = answers[question] { return known }
    let answer = find(workingDirectory: workingDirectory, commandLine: commandLine, executable: executable)
    answers[question] = answer
    return answer
  }

  private mutating func find(workingDirectory: String, commandLine: [String], executable: String?) -> Project? {
    guard let base = base(for: workingDirectory) else { return nil }
    // A backend that reads command lines from `ps` has each as one string: its words.
    let commandLine =
      commandLine.count == 1 && commandLine[0].contains(" ")
      ? commandLine[0].split(separator: " ").map(String.init) : commandLine
    var project = Project(
      root: base.root, markers: base.markers, branch: base.branch, detachedCommit: base.detachedCommit)
    project.framework =
      Self.framework(commandLine: commandLine)
      ?? manifestFramework(base, commandLine: commandLine, executable: executable)
    return project
  }

  /// The root of the project `directory` lies in (`nil` when none): what `--project DIR`
  /// compares holders' roots with.
  public mutating func root(of directory: String) -> String? {
    base(for: directory)?.root
  }

  // MARK: Walking up

  private mutating func base(for directory: String) -> Base? {
    guard directory.hasPrefix("/"), !directory.hasSuffix(" (deleted)") else { return nil }
    if let known = bases[directory] { return known }
    let start = files.realPath(directory).map(Self.normalized) ?? Self.normalized(directory)
    let found: Base?
    if let known = bases[start] {
      found = known
    } else {
      found = walk(from: start)
      bases[start] = found
    }
    bases[directory] = found
    return found
  }

  private func walk(from start: String) -> Base? {
    guard !LocalProjectFiles.isPseudo(start) else { return nil }
    var directory = start
    var levels = 0
    var base: Base?
    while levels <= maxLevels, !stops.contains(directory) {
      if base == nil {
        let markers = markers(in: directory)
        if !markers.isEmpty { base = Base(root: directory, markers: markers) }
      }
      if let gitKind = files.kind(of: Self.join(directory, ".git")), gitKind != .other {
        if base != nil {
          readHead(gitAt: directory, kind: gitKind, into: &base)
        }
        break
      }
      guard let parent = Self.parent(of: directory) else { break }
      directory = parent
      levels += 1
    }
    return base
  }

  private func markers(in directory: String) -> [String] {
    if let names = files.names(in: directory, limit: Self.listingLimit) {
      let present = Set(names)
      var markers = Self.markerNames.filter { present.contains($0) }
      markers += names.filter { name in Self.markerSuffixes.contains { name.hasSuffix($0) && name.count > $0.count } }
        .sorted()
      if markers.first == ".git", files.kind(of: Self.join(directory, ".git")) == .other { markers.removeFirst() }
      return markers
    }
    return Self.markerNames.filter { name in
      guard let kind = files.kind(of: Self.join(directory, name)) else { return false }
      return kind != .other
    }
  }

  private func readHead(gitAt directory: String, kind: ProjectFileKind, into base: inout Base?) {
    let dotGit = Self.join(directory, ".git")
    var gitDirectory = dotGit
    if kind == .file {
      guard let bytes = files.read(dotGit, limit: Self.headLimit),
        let target = Self.gitDirTarget(bytes)
      else { return }
      gitDirectory = target.hasPrefix("/") ? target : Self.join(directory, target)
    }
    guard let head = files.read(Self.join(gitDirectory, "HEAD"), limit: Self.headLimit) else { return }
    let parsed = Self.parseHead(head)
    base?.branch = parsed.branch
    base?.detachedCommit = parsed.detachedCommit
  }

  /// The path of a `.git` file's `gitdir: PATH` line; `nil` when there is none.
  static func gitDirTarget(_ bytes: [UInt8]) -> String? {
    let text = String(decoding: bytes, as: UTF8.self)
    for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
      guard line.hasPrefix("gitdir:") else { continue }
      let path = trimmed(line.dropFirst("gitdir:".count))
      return path.isEmpty || path.contains("\0") ? nil : path
    }
    return nil
  }

  /// The branch or detached commit a `HEAD` file names.
  public static func parseHead(_ bytes: [UInt8]) -> (branch: String?, detachedCommit: String?) {
    var end = bytes.count
    while end > 0, [0x0A, 0x0D, 0x20, 0x09].contains(bytes[end - 1]) { end -= 1 }
    let content = bytes[0..<end]
    guard !content.contains(0), !content.contains(0x0A) else { return (nil, nil) }
    let text = String(decoding: content, as: UTF8.self)
    if text.hasPrefix("ref:") {
      let ref = trimmed(text.dropFirst(4))
      let branch = ref.hasPrefix("refs/heads/") ? String(ref.dropFirst("refs/heads/".count)) : ref
      return (branch.isEmpty ? nil : branch, nil)
    }
    let isHex = content.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    if isHex, content.count == 40 || content.count == 64 { return (nil, String(text.prefix(7))) }
    return (nil, nil)
  }

  /// `text` without spaces and tabs around it.
  static func trimmed(_ text: Substring) -> String {
    String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
  }

  // MARK: Frameworks

  /// The framework or server a command line names plainly: `vite`, `next dev`, `ng serve`,
  /// `manage.py runserver`, `uvicorn`, `mix phx.server`, `hugo server`…; `nil` otherwise.
  public static func framework(commandLine: [String]) -> String? {
    let names = commandLine.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
    func named(_ candidates: String...) -> Int? { names.firstIndex { candidates.contains($0) } }
    func followed(by words: String..., at index: Int?) -> Bool {
      guard let index else { return false }
      return names[(index + 1)...].contains { words.contains($0) }
    }
    func path(_ fragment: String) -> Bool { commandLine.contains { Self.contains($0, fragment) } }
    func module(_ name: String) -> Bool {
      zip(names, names.dropFirst()).contains { $0 == "-m" && $1 == name }
    }
    if named("vite") != nil || path("/vite/bin/vite") { return "Vite" }
    if path("next/dist/bin/next") || followed(by: "dev", "start", at: named("next")) { return "Next.js" }
    if named("nuxt", "nuxi") != nil || path("/nuxi/bin/") || path("/nuxt/bin/") { return "Nuxt" }
    if path("@angular/cli/bin/ng") || followed(by: "serve", "s", at: named("ng")) { return "Angular" }
    if followed(by: "dev", "preview", at: named("astro")) { return "Astro" }
    if named("remix-serve") != nil || followed(by: "dev", at: named("remix")) { return "Remix" }
    if followed(by: "develop", "serve", at: named("gatsby")) { return "Gatsby" }
    if named("webpack-dev-server") != nil || followed(by: "serve", at: named("webpack")) { return "webpack" }
    if followed(by: "runserver", at: named("manage.py", "django-admin")) { return "Django" }
    if named("flask") != nil || module("flask") { return "Flask" }
    if named("fastapi") != nil || module("fastapi") { return "FastAPI" }
    if named("uvicorn") != nil || module("uvicorn") { return "Uvicorn" }
    if named("gunicorn") != nil || module("gunicorn") || commandLine.first?.hasPrefix("gunicorn:") == true {
      return "Gunicorn"
    }
    if named("hypercorn") != nil || module("hypercorn") { return "Hypercorn" }
    if followed(by: "server", "s", at: named("rails")) { return "Rails" }
    if named("puma") != nil || commandLine.first?.hasPrefix("puma ") == true { return "Puma" }
    if path("spring-boot") || path("org.springframework.boot") { return "Spring Boot" }
    if names.contains("phx.server") { return "Phoenix" }
    if followed(by: "server", "serve", at: named("hugo")) { return "Hugo" }
    if followed(by: "serve", "s", "server", at: named("jekyll")) { return "Jekyll" }
    return nil
  }

  /// True when `fragment` occurs in `text`: a plain search over the UTF-8 bytes (the standard
  /// library's builds a table per call, which a listing of thousands of holders feels).
  static func contains(_ text: String, _ fragment: String) -> Bool {
    let haystack = Array(text.utf8)
    let needle = Array(fragment.utf8)
    guard !needle.isEmpty else { return true }
    guard haystack.count >= needle.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
      var offset = 1
      while offset < needle.count, haystack[start + offset] == needle[offset] { offset += 1 }
      if offset == needle.count { return true }
    }
    return false
  }

  /// The runtimes whose manifests name frameworks.
  private enum Runtime: Hashable, Sendable {
    case node, python, ruby, beam, java, php, native
  }

  private static func runtime(commandLine: [String], executable: String?, root: String) -> Runtime? {
    let program = (executable ?? commandLine.first).map { $0.split(separator: "/").last.map(String.init) ?? $0 } ?? ""
    if ["node", "nodejs", "bun", "deno"].contains(program) || program.hasPrefix("node") { return .node }
    if program.hasPrefix("python") || ["gunicorn", "uvicorn", "hypercorn"].contains(program) { return .python }
    if program.hasPrefix("ruby") || program == "puma" || program == "rails" { return .ruby }
    if program.hasPrefix("beam") || program == "elixir" || program == "mix" { return .beam }
    if program == "java" { return .java }
    if program.hasPrefix("php") { return .php }
    if let binary = executable ?? commandLine.first, binary.hasPrefix(root + "/") { return .native }
    return nil
  }

  private mutating func manifestFramework(_ base: Base, commandLine: [String], executable: String?) -> String? {
    guard let runtime = Self.runtime(commandLine: commandLine, executable: executable, root: base.root) else {
      return nil
    }
    if manifestFrameworks[base.root] == nil { manifestFrameworks[base.root] = readManifests(base) }
    return manifestFrameworks[base.root]?[runtime]
  }

  private func readManifests(_ base: Base) -> [Runtime: String] {
    var found: [Runtime: String] = [:]
    func text(_ name: String) -> String? {
      guard base.markers.contains(name), let bytes = files.read(Self.join(base.root, name), limit: Self.manifestLimit)
      else { return nil }
      return String(decoding: bytes, as: UTF8.self).lowercased()
    }
    func first(_ text: String?, _ table: [(String, String)]) -> String? {
      guard let text else { return nil }
      return table.first { text.contains($0.0) }?.1
    }
    if base.markers.contains("package.json"),
      let bytes = files.read(Self.join(base.root, "package.json"), limit: Self.manifestLimit)
    {
      found[.node] = Self.nodeFramework(packageJSON: bytes)
    }
    found[.python] =
      first(text("requirements.txt"), Self.pythonTable) ?? first(text("pyproject.toml"), Self.pythonTable)
      ?? first(text("Pipfile"), Self.pythonTable)
    found[.ruby] = first(text("Gemfile"), [("'rails'", "Rails"), ("\"rails\"", "Rails"), ("sinatra", "Sinatra")])
    found[.beam] = first(text("mix.exs"), [(":phoenix", "Phoenix")])
    let spring = [("spring-boot", "Spring Boot"), ("quarkus", "Quarkus"), ("micronaut", "Micronaut")]
    found[.java] =
      first(text("pom.xml"), spring) ?? first(text("build.gradle"), spring)
      ?? first(text("build.gradle.kts"), spring)
    found[.php] = first(text("composer.json"), [("laravel/framework", "Laravel"), ("symfony/", "Symfony")])
    found[.native] =
      first(text("Package.swift"), [("vapor/vapor", "Vapor"), ("hummingbird", "Hummingbird")])
      ?? first(
        text("go.mod"),
        [
          ("github.com/gin-gonic/gin", "Gin"), ("github.com/labstack/echo", "Echo"),
          ("github.com/gofiber/fiber", "Fiber"),
        ])
      ?? first(text("Cargo.toml"), [("axum", "Axum"), ("actix-web", "Actix Web"), ("rocket", "Rocket")])
    return found
  }

  private static let pythonTable = [("django", "Django"), ("fastapi", "FastAPI"), ("flask", "Flask")]

  /// A `package.json`'s `dependencies` and `devDependencies` (read with a JSON parser).
  private struct PackageManifest: Decodable {
    var dependencies: [String: Ignored]?
    var devDependencies: [String: Ignored]?

    /// A dependency's version, whatever its shape.
    struct Ignored: Decodable {
      init(from decoder: any Decoder) throws {}
    }
  }

  /// The framework a `package.json` depends on, the most specific first (Next.js before the
  /// React it brings, Vite before Express).
  static func nodeFramework(packageJSON bytes: [UInt8]) -> String? {
    guard let manifest = try? JSONDecoder().decode(PackageManifest.self, from: Data(bytes)) else { return nil }
    var names = Set((manifest.dependencies ?? [:]).keys)
    names.formUnion((manifest.devDependencies ?? [:]).keys)
    let table: [(String, String)] = [
      ("next", "Next.js"), ("nuxt", "Nuxt"), ("@angular/core", "Angular"), ("@remix-run/dev", "Remix"),
      ("astro", "Astro"), ("gatsby", "Gatsby"), ("@sveltejs/kit", "SvelteKit"), ("@nestjs/core", "NestJS"),
      ("vite", "Vite"), ("express", "Express"), ("fastify", "Fastify"), ("koa", "Koa"), ("hono", "Hono"),
    ]
    return table.first { names.contains($0.0) }?.1
  }

  // MARK: Paths

  static func normalized(_ path: String) -> String {
    var path = path
    while path.count > 1, path.hasSuffix("/") { path.removeLast() }
    return path
  }

  static func parent(of path: String) -> String? {
    guard path != "/", let slash = path.lastIndex(of: "/") else { return nil }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }

  static func join(_ directory: String, _ name: String) -> String {
    directory == "/" ? "/" + name : directory + "/" + name
  }
}
