import Subprocess
import SystemPackage

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a finished tool printed and how it ended.
public struct CommandOutput: Hashable, Sendable {
  /// The exit code; `nil` when a signal ended it.
  public var exitCode: Int32?
  /// What it printed on standard output.
  public var standardOutput: [UInt8]
  /// What it printed on standard error.
  public var standardError: [UInt8]

  /// An output as a run gives it.
  public init(exitCode: Int32?, standardOutput: [UInt8], standardError: [UInt8] = []) {
    self.exitCode = exitCode
    self.standardOutput = standardOutput
    self.standardError = standardError
  }
}

/// The seam through which backends run other programs (lsof, ps, netstat, tasklist, netsh,
/// taskkill), so that their parsing and logic are tested with recorded output.
public protocol CommandRunner: Sendable {
  /// Runs `executable` with `arguments` and collects its output. The executable is the one
  /// in the system directories (``ToolLocation``), found through PATH only when none holds
  /// it, and never through PATH as root: a PATH directory another user can write to would
  /// let that user choose the program. Tools run in ``ToolEnvironment``'s locale.
  func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput
}

/// Where a tool is looked up. Root never searches PATH: a directory in it that another
/// user can write to (or `.`) would let that user choose the program root runs.
enum ToolLocation {
  /// The directories searched as root, in order.
  static let systemDirectories = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]

  /// The full path of `name` in ``systemDirectories``; `nil` when none holds an executable
  /// file of that name, or when `name` is not a plain name.
  static func systemPath(
    of name: String, in directories: [String] = systemDirectories,
    isExecutable: (String) -> Bool = Privileges.isExecutableFile
  ) -> String? {
    guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else { return nil }
    return directories.lazy.map { "\($0)/\(name)" }.first(where: isExecutable)
  }
}

/// The locale tools run in: dates, numbers and messages in the C locale's words and formats
/// (`ps -o lstart=` prints `Sun Nov 29 09:12:44 2026`, not `So 29 Nov …`, which no parser
/// could read, and `kill`'s pid-reuse check needs that start time), while characters stay
/// in the user's encoding (tmux needs UTF-8 to read and print session names). `LC_ALL`, which
/// outranks every other setting, is moved to `LC_CTYPE`.
enum ToolEnvironment {
  /// The variables to set (or, when `nil`, remove) in a tool's inherited `environment`.
  static func overrides(for environment: [String: String]) -> [String: String?] {
    var overrides: [String: String?] = ["LC_ALL": nil, "LC_TIME": "C", "LC_NUMERIC": "C", "LC_MESSAGES": "C"]
    if let all = environment["LC_ALL"], !all.isEmpty { overrides["LC_CTYPE"] = all }
    return overrides
  }
}

/// Runs programs for real, through swift-subprocess.
public struct SubprocessRunner: CommandRunner {
  /// Largest output read from one run.
  public var outputLimit: Int

  /// A runner that stops reading a tool after `outputLimit` bytes.
  public init(outputLimit: Int = 64 << 20) {
    self.outputLimit = outputLimit
  }

  /// Runs `executable` and collects its output: the system's own tool where there is one
  /// (as root, only that), in the C locale's formats (``ToolEnvironment``).
  public func run(_ executable: String, _ arguments: [String]) async throws(PortKitError) -> CommandOutput {
    let program: Executable
    if let path = ToolLocation.systemPath(of: executable) {
      program = .path(FilePath(path))
    } else if Privileges.isRoot {
      throw PortKitError(
        .toolMissing,
        "\(executable) was not found in \(ToolLocation.systemDirectories.joined(separator: ", ")); as root, portctl does not search PATH for it."
      )
    } else {
      program = .name(executable)
    }
    let environment = Environment.inherit.updating(
      Dictionary(
        uniqueKeysWithValues: ToolEnvironment.overrides(for: ProcessInfo.processInfo.environment).map {
          (Environment.Key(stringLiteral: $0.key), $0.value)
        }))
    do {
      // Collected as it arrives: a `.bytes(limit:)` output reserves its whole limit at once,
      // which a tight `ulimit -v` cannot give.
      let limit = outputLimit
      let result = try await Subprocess.run(
        program, arguments: Arguments(arguments), environment: environment, input: .none, output: .sequence,
        error: .bytes(limit: 1 << 20)
      ) { execution in
        var collected: [UInt8] = []
        for try await chunk in execution.standardOutput {
          chunk.withUnsafeBytes { collected.append(contentsOf: $0) }
          if collected.count > limit {
            throw PortKitError(
              .toolFailed, "\(executable) printed more than \(limit >> 20) MiB; portctl stopped reading it.")
          }
        }
        return collected
      }
      let code: Int32? =
        switch result.terminationStatus {
        case .exited(let code): Int32(truncatingIfNeeded: code)
        default: nil
        }
      return CommandOutput(exitCode: code, standardOutput: result.closureResult, standardError: result.standardError)
    } catch let error as PortKitError {
      throw error
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
