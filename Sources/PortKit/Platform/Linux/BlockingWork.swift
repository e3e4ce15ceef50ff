#if canImport(Dispatch)
import Dispatch

/// Runs blocking work (a walk of `/proc`, a `poll`) on a Dispatch thread of its own, so that
/// it never holds one of the few threads of Swift's shared cooperative pool, where every
/// other task of the program (a server's requests among them) waits for a free thread.
enum BlockingWork {
  /// Runs `body` on a global Dispatch queue and resumes with what it returned.
  static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
      DispatchQueue.global().async { continuation.resume(returning: body()) }
    }
  }

  /// The same for work that throws.
  static func run<T: Sendable>(_ body: @escaping @Sendable () throws(PortKitError) -> T) async throws(PortKitError)
    -> T
  {
    let result: Result<T, PortKitError> = await run {
      do throws(PortKitError) {
        return .success(try body())
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }
}
#endif
