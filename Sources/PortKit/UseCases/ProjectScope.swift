/// The processes `--project DIR` acts on: those whose project (see ``ProjectDetector``) is
/// DIR's, or lies inside DIR.
///
/// A holder is in scope when its project root is `directory`, or is inside `directory` (a
/// folder holding several projects takes them all), or is the project `directory` itself lies
/// in (`--project src` from inside a repository means that repository). A holder with no
/// project is never in scope.
public struct ProjectScope: Hashable, Sendable {
  /// The directory asked for, as an absolute real path (symbolic links resolved).
  public var directory: String
  /// The root of the project `directory` lies in, when it lies in one.
  public var root: String?

  /// A scope of `directory` (absolute and real), within the project rooted at `root`.
  public init(directory: String, root: String? = nil) {
    self.directory = directory
    self.root = root
  }

  /// True when a process in `project` is in scope.
  public func contains(_ project: Project) -> Bool {
    if project.root == directory || project.root == root { return true }
    let prefix = directory == "/" ? "/" : directory + "/"
    return project.root.hasPrefix(prefix)
  }

  /// True when any of `holders` runs in scope, by their `projects`.
  public func containsAny(_ holders: [HolderProcess], projects: [PID: Project]) -> Bool {
    holders.contains { holder in projects[holder.process.pid].map(contains) ?? false }
  }
}

extension PortInspection {
  /// The scope of `directory` (relative paths from this process's working directory): its
  /// real path and the project it lies in. `nil` when it is not a directory that can be
  /// resolved.
  public func projectScope(_ directory: String) -> ProjectScope? {
    let files = system.projectFiles
    guard !directory.isEmpty, let real = files.realPath(directory), files.kind(of: real) == .directory else {
      return nil
    }
    var detector = ProjectDetector(files: files, home: system.host.homeDirectory)
    return ProjectScope(directory: real, root: detector.root(of: real))
  }

  /// The project of every process holding a socket of `listing`.
  public func projects(in listing: SocketListing) async -> [PID: Project] {
    await projects(for: Self.holders(of: listing))
  }

  /// The listing for `query` and `filter`, narrowed to the sockets held by a process in
  /// `scope`, with the projects of their holders.
  public func listing(
    for query: SocketQuery, filter: ListFilter = ListFilter(), scope: ProjectScope
  ) async throws(PortKitError) -> (listing: SocketListing, projects: [PID: Project]) {
    var listing = try await listing(for: query, filter: filter)
    let projects = await projects(in: listing)
    listing.narrow { scope.containsAny($0.owner.holders, projects: projects) }
    return (listing, projects)
  }

  /// Every holder of `listing`'s sockets, once each, in listing order.
  static func holders(of listing: SocketListing) -> [ProcessRecord] {
    var seen = Set<PID>()
    var holders: [ProcessRecord] = []
    for entry in listing {
      for holder in entry.owner.holders where seen.insert(holder.process.pid).inserted {
        holders.append(holder.process)
      }
    }
    return holders
  }
}
