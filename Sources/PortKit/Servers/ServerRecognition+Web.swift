extension ServerRecognition {
  /// Web servers and application servers: nginx, Apache httpd, gunicorn, uvicorn, hypercorn,
  /// the Werkzeug and Django reloaders, node cluster primaries.
  static let webDetectors: [Detector] = [
    WebServers.nginx, WebServers.apache, WebServers.gunicorn, WebServers.uvicorn, WebServers.hypercorn,
    WebServers.django, WebServers.werkzeug, WebServers.nodeCluster,
  ]
}

/// The detectors of web and application servers, and what they read from process records.
///
/// Every detector checks the relation between processes (a worker's parent must be the
/// master of the same program), not only names, so that a process that merely calls itself
/// `nginx: worker process` is not taken for the master of something it is not.
enum WebServers {
  /// Command lines longer than this many words are read only this far.
  static let wordLimit = 512

  // MARK: Reading command lines

  /// The command line as words: a single argument (a process title such as `nginx: master
  /// process …`, or a rewritten title) is split at spaces.
  static func words(_ process: ProcessRecord) -> [String] {
    let line = process.commandLine
    if line.count == 1 {
      return line[0].split(separator: " ", maxSplits: wordLimit, omittingEmptySubsequences: true).prefix(wordLimit)
        .map(String.init)
    }
    return Array(line.prefix(wordLimit))
  }

  /// The last path component of `path`.
  static func base(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
  }

  /// True for a Python interpreter's file name (`python3`, `python3.11`, `pypy3`).
  static func isPython(_ name: String) -> Bool {
    name.hasPrefix("python") || name.hasPrefix("pypy")
  }

  /// The program a command line runs: the file name of its first word, or, for a Python
  /// interpreter, the script or `-m` module it runs (`python3 /usr/bin/gunicorn app:app` runs
  /// `gunicorn`). `nil` for `python -c …` and empty command lines.
  static func program(_ words: [String]) -> String? {
    guard let first = words.first else { return nil }
    let name = base(first)
    guard isPython(name) else { return name }
    var index = 1
    while index < words.count {
      let word = words[index]
      if word == "-m" { return index + 1 < words.count ? words[index + 1] : nil }
      if word.hasPrefix("-m"), word.count > 2 { return String(word.dropFirst(2)) }
      if word == "-c" || word.hasPrefix("-c") { return nil }
      if word.hasPrefix("-") {
        index += (word == "-W" || word == "-X") ? 2 : 1
        continue
      }
      return base(word)
    }
    return nil
  }

  /// True when `process` runs `name`: its kernel name, or the program of its command line.
  static func runs(_ process: ProcessRecord, _ name: String) -> Bool {
    process.name == name || program(words(process)) == name
  }

  /// The value of an option in `words`: `--flag VALUE`, `--flag=VALUE`, or `-fVALUE` for a
  /// short flag.
  static func value(of flags: [String], in words: [String]) -> String? {
    for (index, word) in words.enumerated() {
      for flag in flags {
        if word == flag { return index + 1 < words.count ? words[index + 1] : nil }
        if flag.hasPrefix("--"), word.hasPrefix(flag + "=") { return String(word.dropFirst(flag.count + 1)) }
        if !flag.hasPrefix("--"), word.hasPrefix(flag), word.count > flag.count {
          return String(word.dropFirst(flag.count))
        }
      }
    }
    return nil
  }

  /// Whole seconds from an option's value (`30`, `30.5`), within reason.
  static func seconds(_ text: String?) -> Int? {
    guard let text, let value = Double(text), value.isFinite, value >= 0, value < 86_400 else { return nil }
    return Int(value.rounded(.up))
  }

  static func quote(_ value: String) -> String { ShellQuoting.quote(value) }

  /// True when two command lines run the same thing: as many words, each the same or the
  /// same file by name (a reloader restarts `./app.py` as `/abs/app.py`), the first word
  /// (the interpreter) aside.
  static func sameArguments(_ lhs: [String], _ rhs: [String]) -> Bool {
    guard lhs.count == rhs.count, lhs.count > 1 else { return false }
    return zip(lhs.dropFirst(), rhs.dropFirst()).allSatisfy { $0 == $1 || base($0) == base($1) }
  }

  // MARK: nginx

  enum NginxRole { case master, worker, single }

  /// nginx's role from its title: `nginx: master process …`, `nginx: worker process`, the
  /// cache manager and loader (workers too), or an untitled nginx (`master_process off`).
  static func nginxRole(_ process: ProcessRecord) -> NginxRole? {
    let title = process.commandLine.first ?? ""
    guard process.name == "nginx" || base(words(process).first ?? "") == "nginx" else { return nil }
    if title.hasPrefix("nginx: master process") { return .master }
    if title.hasPrefix("nginx: worker process") || title.hasPrefix("nginx: cache manager process")
      || title.hasPrefix("nginx: cache loader process")
    {
      return .worker
    }
    return program(words(process)) == "nginx" ? .single : nil
  }

  /// nginx's own stop command, with the `-c`, `-g` and `-p` its master was started with.
  static func nginxStop(_ master: ProcessRecord) -> String {
    let flags: Set<String> = ["-c", "-g", "-p", "-e", "-q", "-t", "-T", "-v", "-V", "-s", "-h", "-?"]
    let title = master.commandLine.first ?? ""
    let titled = master.commandLine.count == 1 && title.hasPrefix("nginx: master process ")
    // A title joins the arguments with single spaces and keeps no boundaries: there a value
    // (a path with spaces, `-g daemon off; pid x;`) runs to the next flag, spaces kept.
    let arguments: [String] =
      titled
      ? title.dropFirst("nginx: master process ".count).split(
        separator: " ", maxSplits: wordLimit, omittingEmptySubsequences: false
      ).prefix(wordLimit).map(String.init)
      : words(master)
    /// A flag, or one of the options that take a value with it attached (`-c/etc/x.conf`).
    func startsOption(_ word: String) -> Bool {
      flags.contains(word) || (word.count > 2 && ["-c", "-g", "-p", "-e"].contains(String(word.prefix(2))))
    }
    func value(from start: Int, joining: Bool) -> (String, next: Int) {
      guard start < arguments.count else { return ("", start) }
      guard joining else { return (arguments[start], start + 1) }
      var end = start
      while end < arguments.count, !startsOption(arguments[end]) { end += 1 }
      return (arguments[start..<end].joined(separator: " "), end)
    }
    let (program, first) = value(from: 0, joining: titled)
    let executable = program.contains("/") ? program : "nginx"
    var kept: [String] = [quote(executable)]
    var index = first
    while index < arguments.count {
      let word = arguments[index]
      index += 1
      let flag = String(word.prefix(2))
      guard ["-c", "-g", "-p", "-e"].contains(flag) else { continue }
      var found = String(word.dropFirst(2))
      if found.isEmpty {
        (found, index) = value(from: index, joining: titled)
      } else if titled {
        let (rest, next) = value(from: index, joining: true)
        if !rest.isEmpty || next > index { found += " " + rest }
        index = next
      }
      guard !found.isEmpty else { continue }
      kept += [flag, quote(found)]
    }
    return (kept + ["-s", "quit"]).joined(separator: " ")
  }

  static let nginx: ServerRecognition.Detector = { clues in
    guard let role = nginxRole(clues.holder) else { return nil }
    let master: ProcessRecord
    switch role {
    case .worker:
      // A worker belongs to the master that forked it; without one it leads nothing.
      guard let parent = clues.parent, nginxRole(parent) == .master else { return nil }
      master = parent
    case .master, .single:
      master = clues.holder
    }
    let workers = clues.children(of: master.pid).filter { $0.pid != master.pid && nginxRole($0) == .worker }
    return RecognizedServer(
      kind: .nginx, name: "nginx",
      detail: "nginx master process \(master.pid)\(count(workers, "worker")); SIGQUIT stops it gracefully",
      master: master, workers: workers, stopSignal: .quit, grace: .seconds(10), stop: nginxStop(master))
  }

  static func count(_ workers: [ProcessRecord], _ noun: String) -> String {
    switch workers.count {
    case 0: ""
    case 1: " and 1 \(noun)"
    default: " and \(workers.count) \(noun)s"
    }
  }

  // MARK: Apache httpd

  static func apacheName(_ process: ProcessRecord) -> String? {
    for name in ["apache2", "httpd"] where runs(process, name) { return name }
    return nil
  }

  static let apache: ServerRecognition.Detector = { clues in
    guard let name = apacheName(clues.holder) else { return nil }
    // The master is the topmost of the unbroken line of the same program above the holder.
    var master = clues.holder
    for ancestor in clues.ancestors {
      guard apacheName(ancestor) == name else { break }
      master = ancestor
    }
    let workers = clues.children(of: master.pid).filter { $0.pid != master.pid && apacheName($0) == name }
    let arguments = words(master)
    var options: [String] = []
    for flag in ["-d", "-f"] {
      if let value = value(of: [flag], in: arguments) { options += [flag, quote(value)] }
    }
    let control = name == "apache2" ? "apache2ctl" : "apachectl"
    let stop =
      name == "apache2" && options.isEmpty
      ? "apache2ctl stop" : ([control] + options + ["-k", "graceful-stop"]).joined(separator: " ")
    return RecognizedServer(
      kind: .apache, name: "Apache httpd",
      detail: "Apache httpd (\(name)) parent process \(master.pid)\(count(workers, "child"))",
      master: master, workers: workers, stopSignal: .terminate, grace: .seconds(10), stop: stop)
  }

  // MARK: gunicorn

  enum TitledRole { case master, worker, untitled }

  /// gunicorn's role: from its title when setproctitle is installed (`gunicorn: master
  /// [app]`, `gunicorn: worker [app]`), otherwise only that it runs gunicorn.
  static func gunicornRole(_ process: ProcessRecord) -> TitledRole? {
    let title = process.commandLine.first ?? ""
    if title.hasPrefix("gunicorn: master") { return .master }
    if title.hasPrefix("gunicorn: worker") { return .worker }
    return runs(process, "gunicorn") ? .untitled : nil
  }

  static let gunicorn: ServerRecognition.Detector = { clues in
    guard let role = gunicornRole(clues.holder) else { return nil }
    let parentRole = clues.parent.flatMap(gunicornRole)
    let master: ProcessRecord
    switch role {
    case .master:
      master = clues.holder
    case .worker:
      guard let parent = clues.parent, parentRole == .master || parentRole == .untitled else { return nil }
      master = parent
    case .untitled:
      // A worker's parent is its arbiter; an arbiter with workers of its own leads them.
      let ownWorkers = clues.children(of: clues.holder.pid).contains { gunicornRole($0) != nil }
      if let parent = clues.parent, !ownWorkers, parentRole == .master || parentRole == .untitled {
        master = parent
      } else {
        master = clues.holder
      }
    }
    let workers = clues.children(of: master.pid).filter {
      $0.pid != master.pid && [.worker, .untitled].contains(gunicornRole($0))
    }
    // The option on the command line, or in GUNICORN_CMD_ARGS (which workers inherit).
    let fromEnvironment = (clues.environment?["GUNICORN_CMD_ARGS"] ?? "").split(separator: " ").prefix(wordLimit)
      .map(String.init)
    let graceful =
      seconds(value(of: ["--graceful-timeout"], in: words(master)))
      ?? seconds(value(of: ["--graceful-timeout"], in: fromEnvironment)) ?? 30
    return RecognizedServer(
      kind: .gunicorn, name: "gunicorn",
      detail:
        "gunicorn arbiter \(master.pid)\(count(workers, "worker")); SIGTERM to the arbiter stops the workers gracefully (graceful timeout \(graceful) s)",
      master: master, workers: workers, stopSignal: .terminate, grace: .seconds(graceful + 5))
  }

  // MARK: uvicorn and hypercorn

  /// A worker started by Python's multiprocessing `spawn` (not its resource tracker).
  static func isSpawnedWorker(_ process: ProcessRecord) -> Bool {
    let line = words(process)
    return line.contains("--multiprocessing-fork") && line.contains { $0.contains("spawn_main") }
  }

  /// A server whose supervising process starts its workers with multiprocessing: uvicorn
  /// (`--workers`, `--reload`) and hypercorn (`--workers`/`-w`).
  static func supervised(
    _ clues: ServerRecognition.Clues, program name: String, kind: RecognizedServer.Kind, graceFlag: String,
    defaultGrace: Int
  ) -> RecognizedServer? {
    let master: ProcessRecord
    if runs(clues.holder, name) {
      master = clues.holder
    } else if isSpawnedWorker(clues.holder), let parent = clues.parent, runs(parent, name) {
      master = parent
    } else {
      return nil
    }
    let workers = clues.children(of: master.pid).filter { $0.pid != master.pid && isSpawnedWorker($0) }
    let arguments = words(master)
    let graceful = seconds(value(of: [graceFlag], in: arguments)).map { $0 + 5 } ?? defaultGrace
    let reload = arguments.contains("--reload")
    let detail =
      workers.isEmpty && !reload
      ? "\(name) (pid \(master.pid))"
      : "\(name) \(reload ? "reloader" : "supervisor") \(master.pid)\(count(workers, "worker")); SIGTERM to it stops the workers (killed alone, they are started again)"
    return RecognizedServer(
      kind: kind, name: name, detail: detail, master: master, workers: workers, stopSignal: .terminate,
      grace: .seconds(graceful))
  }

  static let uvicorn: ServerRecognition.Detector = { clues in
    supervised(clues, program: "uvicorn", kind: .uvicorn, graceFlag: "--timeout-graceful-shutdown", defaultGrace: 10)
  }

  static let hypercorn: ServerRecognition.Detector = { clues in
    supervised(clues, program: "hypercorn", kind: .hypercorn, graceFlag: "--graceful-timeout", defaultGrace: 8)
  }

  // MARK: Reloaders

  /// A development server run under a reloader: the outer process restarts a copy of itself
  /// (same arguments) with `marker=true` in its environment. SIGTERM to the outer one makes
  /// it end its child.
  static func reloaded(
    _ clues: ServerRecognition.Clues, marker: String, accepts: ([String]) -> Bool
  ) -> (master: ProcessRecord, child: ProcessRecord)? {
    let holder = clues.holder
    let arguments = words(holder)
    guard accepts(arguments) else { return nil }
    if clues.environment?[marker] == "true" {
      // The child: its parent must be the reloader, running the same command.
      guard let parent = clues.parent, sameArguments(words(parent), arguments) else { return nil }
      return (parent, holder)
    }
    // The reloader itself holds the socket too (Werkzeug passes it down): its child must
    // say so in its environment and run the same command.
    let child = clues.children(of: holder.pid).first {
      clues.childEnvironments[$0.pid]?[marker] == "true" && sameArguments(words($0), arguments)
    }
    return child.map { (holder, $0) }
  }

  static let werkzeug: ServerRecognition.Detector = { clues in
    guard let found = reloaded(clues, marker: "WERKZEUG_RUN_MAIN", accepts: { _ in true }) else { return nil }
    let flask = words(found.master).contains { base($0) == "flask" || $0 == "flask" }
    return RecognizedServer(
      kind: .werkzeug, name: flask ? "Flask development server" : "Werkzeug development server",
      detail:
        "Werkzeug reloader \(found.master.pid) running the server in its child \(found.child.pid); SIGTERM to the reloader ends both",
      master: found.master, workers: [found.child], stopSignal: .terminate, grace: .seconds(5))
  }

  static let django: ServerRecognition.Detector = { clues in
    guard let found = reloaded(clues, marker: "RUN_MAIN", accepts: { $0.contains("runserver") }) else { return nil }
    return RecognizedServer(
      kind: .django, name: "Django development server",
      detail:
        "Django runserver autoreloader \(found.master.pid) running the server in its child \(found.child.pid); SIGTERM to the autoreloader ends both",
      master: found.master, workers: [found.child], stopSignal: .terminate, grace: .seconds(5))
  }

  // MARK: node cluster

  static func isNode(_ process: ProcessRecord) -> Bool {
    ["node", "nodejs"].contains(process.name) || ["node", "nodejs"].contains(base(words(process).first ?? ""))
  }

  static let nodeCluster: ServerRecognition.Detector = { clues in
    let holder = clues.holder
    guard isNode(holder) else { return nil }
    let master: ProcessRecord
    if clues.environment?["NODE_UNIQUE_ID"] != nil {
      // A worker: its primary is its node parent.
      guard let parent = clues.parent, isNode(parent) else { return nil }
      master = parent
    } else {
      master = holder
    }
    let children = clues.children(of: master.pid).filter { $0.pid != master.pid && isNode($0) }
    // Workers carry NODE_UNIQUE_ID; where a sibling's environment was not read, a worker
    // holder's siblings running its very command line are its fellow workers.
    let workers = children.filter {
      $0.pid == holder.pid || clues.childEnvironments[$0.pid]?["NODE_UNIQUE_ID"] != nil
        || (master.pid != holder.pid && clues.childEnvironments[$0.pid] == nil && $0.commandLine == holder.commandLine)
    }
    // A primary is known by its workers; a lone node process is not a cluster.
    guard master.pid != holder.pid || !workers.isEmpty else { return nil }
    return RecognizedServer(
      kind: .nodeCluster, name: "node cluster",
      detail: "node cluster primary \(master.pid)\(count(workers, "worker")); the workers exit when the primary does",
      master: master, workers: workers, stopSignal: .terminate, grace: .seconds(5))
  }
}
