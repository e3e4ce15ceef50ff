#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a directory entry is, following symbolic links.
public enum ProjectFileKind: Hashable, Sendable {
  /// A directory.
  case directory
  /// A regular file.
  case file
  /// Something else: a FIFO, a device, a socket.
  case other
}

/// The file-reading seam of project detection: the few questions ``ProjectDetector`` asks of a
/// file system. Tests answer them from fixture trees or a fake; ``LocalProjectFiles`` reads
/// the real one. Paths are absolute.
public protocol ProjectFiles: Sendable {
  /// What `path` is (following symbolic links); `nil` when it does not exist or cannot be seen.
  func kind(of path: String) -> ProjectFileKind?
  /// The contents of the regular file `path` when it has at most `limit` bytes; `nil` when it
  /// is missing, unreadable, not a regular file or larger.
  func read(_ path: String, limit: Int) -> [UInt8]?
  /// The names in directory `path` (not `.` or `..`), at most `limit` of them; `nil` when the
  /// directory cannot be listed or holds more.
  func names(in path: String, limit: Int) -> [String]?
  /// `path` with every symbolic link, `.` and `..` resolved; `nil` when it cannot be.
  func realPath(_ path: String) -> String?
}

/// The real file system, read with bounded reads: a file is opened non-blocking and read only
/// when it is a regular file of at most the asked size; nothing under `/proc`, `/sys` or `/dev`
/// is ever read; no program is run.
public struct LocalProjectFiles: ProjectFiles {
  /// The real file system.
  public init() {}

  /// True for paths under the kernel's pseudo file systems, which are never read.
  static func isPseudo(_ path: String) -> Bool {
    for prefix in ["/proc", "/sys", "/dev"] where path == prefix || path.hasPrefix(prefix + "/") { return true }
    return false
  }

  /// See ``ProjectFiles/kind(of:)``.
  public func kind(of path: String) -> ProjectFileKind? {
    #if os(Windows)
    return nil
    #else
    guard !Self.isPseudo(path) else { return nil }
    var status = stat()
    guard stat(path, &status) == 0 else { return nil }
    switch status.st_mode & S_IFMT {
    case S_IFDIR: return .directory
    case S_IFREG: return .file
    default: return .other
    }
    #endif
  }

  /// See ``ProjectFiles/read(_:limit:)``.
  public func read(_ path: String, limit: Int) -> [UInt8]? {
    #if os(Windows)
    return nil
    #else
    guard !Self.isPseudo(path), limit >= 0 else { return nil }
    var fd: Int32 = -1
    repeat { fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) } while fd < 0 && errno == EINTR
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= limit else { return nil }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: min(max(limit, 1) + 1, 64 << 10))
    while bytes.count <= limit {
      let count = buffer.withUnsafeMutableBytes { Self.systemRead(fd, $0) }
      if count < 0, errno == EINTR { continue }
      guard count >= 0 else { return nil }
      if count == 0 { break }
      bytes.append(contentsOf: buffer[0..<count])
    }
    return bytes.count <= limit ? bytes : nil
    #endif
  }

  #if !os(Windows)
  private static func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
    #if canImport(Glibc)
    Glibc.read(fd, buffer.baseAddress, buffer.count)
    #else
    Darwin.read(fd, buffer.baseAddress, buffer.count)
    #endif
  }
  #endif

  /// See ``ProjectFiles/names(in:limit:)``.
  public func names(in path: String, limit: Int) -> [String]? {
    #if os(Windows)
    return nil
    #else
    guard !Self.isPseudo(path), let directory = opendir(path) else { return nil }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
        let bytes = raw.prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
      }
      if name == "." || name == ".." { continue }
      guard names.count < limit else { return nil }
      names.append(name)
    }
    return names
    #endif
  }

  /// See ``ProjectFiles/realPath(_:)``.
  public func realPath(_ path: String) -> String? {
    #if os(Windows)
    return nil
    #else
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
    #endif
  }
}
