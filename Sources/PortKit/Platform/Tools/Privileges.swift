#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Who portctl runs as, and who owns a file, for the decisions that keep root from acting
/// on another user's behalf with its own privileges.
public enum Privileges {
  /// portctl's effective uid; `nil` where there is none (Windows).
  public static var effectiveUID: UInt32? {
    #if os(Windows)
    return nil
    #else
    return UInt32(geteuid())
    #endif
  }

  /// True when portctl runs with root's privileges (effective uid 0).
  public static var isRoot: Bool { effectiveUID == 0 }

  /// The owner of the Unix-domain socket at `path`, read with `lstat` (a symbolic link is
  /// not followed, and is not a socket); `nil` when `path` is not a socket or cannot be read.
  public static func socketOwner(atPath path: String) -> UInt32? {
    #if os(Windows)
    return nil
    #else
    var info = stat()
    guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
    return UInt32(info.st_uid)
    #endif
  }

  /// True when `path` names a regular file that portctl may execute (`access(X_OK)`).
  public static func isExecutableFile(_ path: String) -> Bool {
    #if os(Windows)
    return false
    #else
    var info = stat()
    guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
    return access(path, X_OK) == 0
    #endif
  }
}
