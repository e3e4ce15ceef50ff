import Subprocess

/// What a finished tool printed and how it ended.
public struct CommandOutput: Hashable, Sendable {
  /// The exit code; `nil` when a signal ended it.
  public var exitCode: Int32?
  public var standardOutput: [UInt8]
  public var standardError: [UInt8]

  public init(exitCode: Int32?, standardOutput: [UInt8], standardError: [UInt8] = []) {
    self.exitCode = exitCode
    self.standardOutput = standardOutput
    self.standardError = standardError
  }
}

/// The seam through which backends run other programs (lsof, ps, netstat, tasklist, netsh,
/// taskkill), so that their parsing and logic are tested with recorded output.
public protocol CommandRunner: Sendable {
  /// Runs `executable` (found through PATH) with `arguments` and collects its output.
  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput
}

/// Runs programs for real, through swift-subprocess.
public struct SubprocessRunner: CommandRunner {
  /// Largest output read from one run.
  public var outputLimit: Int

  public init(outputLimit: Int = 64 << 20) {
    self.outputLimit = outputLimit
  }

  public func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    do {
      let result = try await Subprocess.run(
        .name(executable), arguments: Arguments(arguments), output: .bytes(limit: outputLimit),
        error: .bytes(limit: 1 << 20))
      let code: Int32? =
        switch result.terminationStatus {
        case .exited(let code): Int32(truncatingIfNeeded: code)
        default: nil
        }
      return CommandOutput(exitCode: code, standardOutput: result.standardOutput, standardError: result.standardError)
    } catch let error as SubprocessError {
      if error.code == .executableNotFound {
        throw PortKitError(.toolMissing, "\(executable) was not found on PATH; portctl needs it on this system.")
      }
      throw PortKitError(.toolFailed, "Running \(executable) failed: \(error).")
    } catch {
      throw PortKitError(.toolFailed, "Running \(executable) failed: \(error).")
    }
  }
}
