#if !os(Windows)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the process may use (descriptors, address space), checked before any work starts, so
/// that a tight `ulimit` ends in one clear sentence instead of a hang, a crash in a thread
/// that could not start, or owners reported hidden because a directory could not be opened.
public enum ProcessResources {
  /// Descriptors a run needs beyond those already open: the descriptor walk's directories,
  /// netlink, bind probes, the pipes of a tool it runs and the runtime's own.
  public static let descriptorsNeeded = 32

  /// Address space a run needs beyond what is mapped when it starts: a stack for each thread
  /// it may start (the walk's, the runtime's pool) and room for its tables.
  public static func addressSpaceNeeded(threads: Int, stackSize: Int) -> Int {
    threads * stackSize + (48 << 20)
  }

  /// Raises the soft descriptor limit towards the hard one (to 1024 at most), as a process
  /// may. Returns the limit now in force.
  @discardableResult
  public static func raiseDescriptorLimit() -> Int {
    var limit = rlimit()
    guard getrlimit(Self.descriptorResource, &limit) == 0 else { return Int.max }
    let wanted = min(limit.rlim_max, 1024)
    if limit.rlim_cur < wanted {
      limit.rlim_cur = wanted
      _ = setrlimit(Self.descriptorResource, &limit)
      _ = getrlimit(Self.descriptorResource, &limit)
    }
    return limit.rlim_cur == Self.unlimited ? Int.max : Int(clamping: limit.rlim_cur)
  }

  /// Why this process cannot run within its limits, or `nil` when it can. Costs one
  /// `getrlimit` per resource when the limits are generous. `threads` defaults to what a
  /// run may start: a walker and a runtime worker per processor, and two more.
  public static func shortfall(threads: Int? = nil) -> PortKitError? {
    #if os(Linux)
    let processors = Syscalls.onlineProcessors
    #else
    let processors = max(1, Int(sysconf(_SC_NPROCESSORS_ONLN)))
    #endif
    let threads = threads ?? (2 * processors + 2)
    var limit = rlimit()
    if getrlimit(Self.descriptorResource, &limit) == 0, limit.rlim_cur != Self.unlimited, limit.rlim_cur < 256 {
      let maximum = Int32(limit.rlim_cur)
      var open = 0
      for fd in 0..<maximum where fcntl(fd, F_GETFD) != -1 { open += 1 }
      let free = Int(maximum) - open
      if free < descriptorsNeeded {
        return PortKitError(
          .resourcesExhausted,
          "Too few file descriptors: portctl needs \(descriptorsNeeded) free, but the limit (ulimit -n) is "
            + "\(maximum) and \(open) are open. Raise it (ulimit -n 1024) and run it again.")
      }
    }
    #if os(Linux)
    if getrlimit(Self.addressSpaceResource, &limit) == 0, limit.rlim_cur != Self.unlimited {
      var stack = rlimit()
      let stackSize =
        getrlimit(Self.stackResource, &stack) == 0 && stack.rlim_cur != Self.unlimited
        ? Int(clamping: stack.rlim_cur) : 2 << 20
      let needed = mappedBytes() + addressSpaceNeeded(threads: threads, stackSize: stackSize)
      let allowed = Int(clamping: limit.rlim_cur)
      if allowed < needed {
        let mebibytes = (needed + (1 << 20) - 1) >> 20
        return PortKitError(
          .resourcesExhausted,
          "Too little address space: portctl needs about \(mebibytes) MiB, but the limit (ulimit -v) is "
            + "\(allowed >> 20) MiB, so its threads could not start. Raise it (ulimit -v \(mebibytes * 1024 * 2)) "
            + "and run it again.")
      }
    }
    #endif
    return nil
  }

  #if os(Linux)
  /// The address space mapped now, from `/proc/self/statm` (its first field, in pages).
  static func mappedBytes() -> Int {
    guard let bytes = Syscalls.readFile("/proc/self/statm", limit: 256),
      let pages = bytes.split(separator: UInt8(ascii: " ")).first.flatMap({ Int(String(decoding: $0, as: UTF8.self)) })
    else { return 0 }
    return pages * Int(getpagesize())
  }

  static let unlimited = rlim_t.max
  static let descriptorResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
  static let addressSpaceResource = __rlimit_resource_t(RLIMIT_AS.rawValue)
  static let stackResource = __rlimit_resource_t(RLIMIT_STACK.rawValue)
  #else
  static let unlimited = RLIM_INFINITY
  static let descriptorResource = RLIMIT_NOFILE
  #endif
}
#endif
