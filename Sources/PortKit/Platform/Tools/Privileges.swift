#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who portctl runs as, and who owns a file, for the decisions that keep root from acting
/// on another user's behalf with its own privileges.
enum Privileges {
  /// portctl's effective uid; `nil` where there is none (Windows).
  static var effectiveUID: UInt32? {
    #if os(Windows)
    return nil
    #else
    return UInt32(geteuid())
    #endif
  }

  /// True when portctl runs with root's privileges (effective uid 0).
  static var isRoot: Bool { effectiveUID == 0 }

  /// The owner of the Unix-domain socket at `path`, read with `lstat` (a symbolic link is
  /// not followed, and is not a socket); `nil` when `path` is not a socket or cannot be read.
  static func socketOwner(atPath path: String) -> UInt32? {
    #if os(Windows)
    return nil
    #else
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
    return UInt32(info.st_uid)
    #endif
  }

  /// `path` with every symbolic link resolved, when each directory on the way to it can be
  /// changed only by `uid` or root: owned by one of them, and not writable by group or others
  /// unless sticky (as `/tmp` is). `nil` otherwise, or when it cannot be resolved. A path
  /// checked this way and then used names the same file: nobody else can swap a component.
  static func securePath(_ path: String, uid: UInt32) -> String? {
    #if os(Windows)
    return nil
    #else
    let slash = path.lastIndex(of: "/")
    guard let slash, slash != path.index(before: path.endIndex) else { return nil }
    let directory = slash == path.startIndex ? "/" : String(path[..<slash])
    let name = path[path.index(after: slash)...]
    guard name != ".", name != "..", let resolved = realpath(directory, nil) else { return nil }
    defer { free(resolved) }
    let canonical = String(cString: resolved)
    var current = canonical
    while true {
      var info = stat()
      guard lstat(current, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { return nil }
      guard info.st_uid == uid || info.st_uid == 0 else { return nil }
      let writableByOthers = info.st_mode & (S_IWGRP | S_IWOTH) != 0
      if writableByOthers && info.st_mode & S_ISVTX == 0 { return nil }
      if current == "/" { break }
      let parent = current.lastIndex(of: "/").map { current[..<$0] } ?? ""
      current = parent.isEmpty ? "/" : String(parent)
    }
    return (canonical == "/" ? "" : canonical) + "/" + name
    #endif
  }

  /// `directory` with its links resolved when only root can change it or any directory on
  /// the way to it (owned by root, writable by nobody else, sticky or not); `nil` otherwise.
  static func rootOnlyDirectory(_ directory: String) -> String? {
    #if os(Windows)
    return nil
    #else
    guard directory.hasPrefix("/"), let resolved = securePath(directory + "/probe", uid: 0) else { return nil }
    let canonical = String(resolved.dropLast("/probe".count))
    var info = stat()
    guard stat(canonical.isEmpty ? "/" : canonical, &info) == 0, info.st_uid == 0,
      info.st_mode & (S_IWGRP | S_IWOTH) == 0
    else { return nil }
    return canonical.isEmpty ? "/" : canonical
    #endif
  }

  /// True when `path` names a regular file that portctl may execute (`access(X_OK)`).
  static func isExecutableFile(_ path: String) -> Bool {
    #if os(Windows)
    return false
    #else
    var info = stat()
    guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
    return access(path, X_OK) == 0
    #endif
  }
}
