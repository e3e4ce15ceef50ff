/// What may start a holder again after it is ended: a supervisor, a shell running it in a
/// loop, a systemd service that restarts, a container runtime.
public struct Respawner: Hashable, Sendable {
  /// What kind of respawner it is; stable, and used in the JSON output.
  public enum Kind: String, Hashable, Sendable {
    /// A process manager or supervisor (supervisord, pm2, nodemon, runit, s6, a Procfile runner).
    case supervisor
    /// A shell running the holder in a loop (a `-c` string or a script file).
    case shellLoop = "shell-loop"
    /// A shell running a script file portctl could not read: it may loop.
    case unreadScript = "unread-script"
    /// A systemd service whose `Restart=` is not `no` (or could not be read).
    case systemdService = "systemd-service"
    /// A container runtime (containerd-shim, conmon): the container's restart policy decides.
    case containerRuntime = "container-runtime"
  }

  /// What kind of respawner it is.
  public var kind: Kind
  /// The process that would start the holder again, while it lives; `nil` where that is not
  /// one process portctl can watch (systemd, a container runtime that is replaced on restart).
  public var process: ProcessRecord?
  /// A clause naming it: `parent is supervisord (pid 42)`.
  public var reason: String

  /// How long to watch for it to start the holder again: a supervisor, systemd or a
  /// container runtime takes its time (supervisord polls every second, then starts the
  /// program anew), so 5 s; a shell loop restarts at once, so 2 s.
  public var window: Duration {
    switch kind {
    case .supervisor, .systemdService, .containerRuntime: .seconds(5)
    case .shellLoop, .unreadScript: .seconds(2)
    }
  }

  /// A respawner of `kind`, watched through `process` where there is one.
  public init(kind: Kind, process: ProcessRecord?, reason: String) {
    self.kind = kind
    self.process = process
    self.reason = reason
  }
}

/// Whether something is likely to start a holder again after it is ended. Pure: the
/// ancestry, the scripts the shells in it run and the systemd restart setting are read
/// beforehand (see ``RespawnRisk/Facts``).
///
/// Only what can respawn counts: a recognised supervisor or process manager, a shell running
/// a loop, a systemd service with `Restart=` other than `no`, a container runtime. An
/// interactive shell, tmux, screen, `script`, an ssh session, a one-shot script or any other
/// parent does not start a process again once it exits.
public enum RespawnRisk {
  /// What the decision reads about one holder.
  public struct Facts: Hashable, Sendable {
    /// The holder's ancestors, parent first.
    public var ancestors: [ProcessRecord]
    /// The text of the script files that shells among the ancestors run, by the shell's pid,
    /// where it was read.
    public var scripts: [PID: String]
    /// The `Restart=` setting of the holder's systemd service, where it was read.
    public var restart: String?

    /// Facts as read.
    public init(ancestors: [ProcessRecord], scripts: [PID: String] = [:], restart: String? = nil) {
      self.ancestors = ancestors
      self.scripts = scripts
      self.restart = restart
    }
  }

  static let shells: Set<String> = [
    "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "ash", "busybox", "nu", "pwsh", "xonsh",
    "elvish", "yash", "oksh", "rbash",
  ]

  /// Programs that start their children again when they exit, by file name.
  static let supervisors: Set<String> = [
    "supervisord", "pm2", "nodemon", "runsv", "s6-supervise", "supervise", "foreman", "honcho", "overmind", "forego",
    "circusd", "forever", "node-dev", "ts-node-dev",
  ]

  /// Interpreters a supervisor may run under (`python3 /usr/bin/supervisord`).
  static let interpreters: Set<String> = ["python", "python3", "node", "ruby", "perl", "bun", "deno"]

  /// How many one-shot shells are looked through to the process that started them.
  static let shellDepth = 4

  /// What may start `target` again, or `nil` when nothing that can respawn it is known.
  public static func respawner(for target: ProcessRecord, facts: Facts) -> Respawner? {
    if let unit = systemdService(target.controlGroup) {
      switch facts.restart {
      case nil:
        return Respawner(
          kind: .systemdService, process: nil,
          reason: "it runs in the systemd service \(unit), whose Restart= setting could not be read")
      case let restart? where restart != "no":
        return Respawner(
          kind: .systemdService, process: nil,
          reason: "it runs in the systemd service \(unit), which restarts it (Restart=\(restart))")
      default:
        break
      }
    }
    var oneShot: [ProcessRecord] = []
    for ancestor in facts.ancestors {
      // Init adopts every orphan; systemd as init is judged by the service above.
      guard ancestor.pid > 1 else { return nil }
      func named(_ what: String) -> String {
        guard let first = oneShot.first else { return "parent is \(what)" }
        return "parent is \(label(first)), a one-shot shell started by \(what)"
      }
      if let name = supervisor(ancestor) {
        return Respawner(kind: .supervisor, process: ancestor, reason: named("\(name) (pid \(ancestor.pid))"))
      }
      if let runtime = containerRuntime(ancestor) {
        return Respawner(
          kind: .containerRuntime, process: nil,
          reason: named(
            "the container runtime \(runtime) (pid \(ancestor.pid)); the container's restart policy may start it again"
          ))
      }
      guard isShell(ancestor), oneShot.count < shellDepth else { return nil }
      switch shellInput(ancestor.commandLine) {
      case .interactive:
        return nil
      case .command(let text):
        if containsLoop(text) {
          return Respawner(
            kind: .shellLoop, process: ancestor, reason: named("\(label(ancestor)), running it in a loop"))
        }
      case .script(let path):
        guard let text = facts.scripts[ancestor.pid] else {
          return Respawner(
            kind: .unreadScript, process: ancestor,
            reason: named("\(label(ancestor)), running the script \(path), which portctl could not read"))
        }
        if containsLoop(text) {
          return Respawner(
            kind: .shellLoop, process: ancestor,
            reason: named("\(label(ancestor)), running the script \(path), which loops"))
        }
      }
      // A one-shot shell ends after its command; whoever started it may start it again.
      oneShot.append(ancestor)
    }
    return nil
  }

  private static func label(_ process: ProcessRecord) -> String {
    "\(process.name) (pid \(process.pid))"
  }

  /// The `.service` unit in a cgroup path such as `0::/system.slice/nginx.service`, for
  /// system services and user services alike (but not login sessions or scopes).
  public static func systemdService(_ controlGroup: String?) -> String? {
    guard let controlGroup else { return nil }
    let path = controlGroup.split(separator: "\n").first { $0.hasPrefix("0::") } ?? Substring(controlGroup)
    return path.split(separator: "/").last { $0.hasSuffix(".service") && !$0.hasPrefix("user@") }.map(String.init)
  }

  /// True when the service in `controlGroup` is a user service (under `user@UID.service`).
  static func isUserService(_ controlGroup: String?) -> Bool {
    guard let controlGroup else { return false }
    let path = controlGroup.split(separator: "\n").first { $0.hasPrefix("0::") } ?? Substring(controlGroup)
    return path.split(separator: "/").contains { $0.hasPrefix("user@") && $0.hasSuffix(".service") }
  }

  /// The command line as words (a single string split at spaces).
  static func words(_ process: ProcessRecord) -> [String] {
    process.commandLine.count == 1
      ? process.commandLine[0].split(separator: " ").map(String.init) : process.commandLine
  }

  static func baseName(_ word: String) -> String {
    var name = word.split(separator: "/").last.map(String.init) ?? word
    if name.hasPrefix("-") { name.removeFirst() }  // a login shell: -bash
    return name
  }

  /// The supervisor `process` is, by name: its own, its program's, or the script an
  /// interpreter runs (`python3 /usr/bin/supervisord`, `node …/nodemon`).
  static func supervisor(_ process: ProcessRecord) -> String? {
    if ProcessManagers.isPM2(process) { return "pm2" }
    if supervisors.contains(process.name) { return process.name }
    let words = words(process)
    guard let first = words.first else { return nil }
    let program = baseName(first)
    if supervisors.contains(program) { return program }
    let versionless = String(program.prefix { !$0.isNumber && $0 != "." })
    guard interpreters.contains(program) || interpreters.contains(versionless) else { return nil }
    guard let script = words.dropFirst().first(where: { !$0.hasPrefix("-") }) else { return nil }
    let name = baseName(script)
    let stem = name.split(separator: ".").first.map(String.init) ?? name  // nodemon.js
    return supervisors.contains(name) ? name : supervisors.contains(stem) ? stem : nil
  }

  /// The container runtime `process` is (containerd-shim, conmon), by name.
  static func containerRuntime(_ process: ProcessRecord) -> String? {
    let name = words(process).first.map(baseName) ?? process.name
    for candidate in [process.name, name]
    where candidate.hasPrefix("containerd-shim") || candidate == "conmon" || candidate == "crun-shim" {
      return candidate
    }
    return nil
  }

  static func isShell(_ process: ProcessRecord) -> Bool {
    if shells.contains(process.name) { return true }
    return words(process).first.map { shells.contains(baseName($0)) } ?? false
  }

  /// Where a shell reads its commands from.
  enum ShellInput: Hashable {
    /// A person, or standard input.
    case interactive
    /// A `-c` string.
    case command(String)
    /// A script file.
    case script(String)
  }

  /// Where the shell with `commandLine` reads its commands from: `sh -c '…'`, `bash -ec '…'`,
  /// `bash ./run.sh`, `-bash`, `zsh -l`.
  static func shellInput(_ commandLine: [String]) -> ShellInput {
    let words =
      commandLine.count == 1 ? commandLine[0].split(separator: " ").map(String.init) : commandLine
    var command = false
    var index = 1
    while index < words.count {
      let word = words[index]
      index += 1
      if word == "--" || word == "-" {
        guard word == "--", index < words.count else { return .interactive }
        return command ? .command(words[index]) : .script(words[index])
      }
      if word.hasPrefix("--") {
        // Options of bash and zsh that take a value.
        if ["--rcfile", "--init-file"].contains(word) { index += 1 }
        continue
      }
      if (word.hasPrefix("-") || word.hasPrefix("+")), word.count > 1 {
        for flag in word.dropFirst() {
          switch flag {
          case "c": command = true
          case "s", "i": return .interactive
          case "o", "O": index += 1
          default: break
          }
        }
        continue
      }
      return command ? .command(word) : .script(word)
    }
    return .interactive
  }

  /// Loop keywords in command position: `while`, `until`, `for`, `select`, `foreach`, `repeat`.
  static let loopKeywords: Set<Substring> = ["while", "until", "for", "select", "foreach", "repeat"]

  /// True when `text` (shell code) holds a loop: a loop keyword where a command starts (at
  /// the start, after `;`, `&`, `|`, `(`, `{`, a newline, `do`, `then`, `else`, `!`).
  /// Comments are skipped; quoting is not parsed, so a keyword in a quoted string at such a
  /// place counts too, which only makes portctl watch for nothing.
  static func containsLoop(_ text: String) -> Bool {
    let openers: Set<Substring> = [";", "&", "|", "(", ")", "{", "}", "\n", "do", "then", "else", "elif", "!", "`"]
    var previous: Substring? = nil
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
      var tokens: [Substring] = []
      var current = line.startIndex
      var wordStart: Substring.Index? = nil
      func flush(_ end: Substring.Index) {
        if let start = wordStart { tokens.append(line[start..<end]) }
        wordStart = nil
      }
      while current < line.endIndex {
        let character = line[current]
        if character == "#", wordStart == nil { break }  // a comment to the end of the line
        if character == " " || character == "\t" {
          flush(current)
        } else if ";&|(){}`".contains(character) {
          flush(current)
          tokens.append(line[current...current])
        } else if wordStart == nil {
          wordStart = current
        }
        current = line.index(after: current)
      }
      flush(line.endIndex)
      tokens.append("\n")
      for token in tokens {
        if loopKeywords.contains(token), previous.map({ openers.contains($0) }) ?? true { return true }
        previous = token
      }
    }
    return false
  }
}
