/// The project a process runs in: the nearest directory at or above its working directory
/// that a version-control or build manifest marks (`.git`, `package.json`, `Cargo.toml`, …),
/// with its git branch and, where the command line or manifest makes it plain, its framework.
public struct Project: Hashable, Sendable {
  /// The project's root directory, absolute.
  public var root: String
  /// What marks the root as a project, as found there: `.git`, `package.json`, `Cargo.toml`, ….
  public var markers: [String]
  /// The checked-out git branch, read from `HEAD`; `nil` without git or on a detached HEAD.
  public var branch: String?
  /// The commit a detached HEAD points at (abbreviated); `nil` otherwise.
  public var detachedCommit: String?
  /// The framework or server, when the command line or manifest names it (`Vite`, `Next.js`,
  /// `Django`, `Spring Boot`, …).
  public var framework: String?

  /// A project rooted at `root`.
  public init(
    root: String, markers: [String] = [], branch: String? = nil, detachedCommit: String? = nil,
    framework: String? = nil
  ) {
    self.root = root
    self.markers = markers
    self.branch = branch
    self.detachedCommit = detachedCommit
    self.framework = framework
  }

  /// The root's last path component: the folder name people call the project by.
  public var name: String {
    // The last non-empty component between slashes, found from the end of the UTF-8 bytes.
    let utf8 = root.utf8
    let slash = UInt8(ascii: "/")
    var end = utf8.endIndex
    while end > utf8.startIndex, utf8[utf8.index(before: end)] == slash { end = utf8.index(before: end) }
    guard end > utf8.startIndex else {
      // Nothing but slashes: the root less one trailing slash, as written.
      return utf8.count > 1 ? String(root.dropLast()) : root
    }
    var start = end
    while start > utf8.startIndex, utf8[utf8.index(before: start)] != slash { start = utf8.index(before: start) }
    return String(Substring(utf8[start..<end]))
  }
}
