extension ServerRecognition {
  /// Databases and system services: PostgreSQL, MySQL/MariaDB, redis, memcached, sshd,
  /// ssh forwards, Java servers, systemd socket activation.
  static let serviceDetectors: [Detector] = [
    systemdSocket, postgres, mysql, redis, memcached, sshd, sshForward, java,
  ]

  // MARK: Shared readings

  /// The file name of a process's program: `argv[0]`'s last path component, or its kernel name.
  static func program(_ process: ProcessRecord) -> String {
    let first = process.commandLine.first ?? ""
    let word = first.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
    return (word.split(separator: "/").last).map(String.init) ?? process.name
  }

  /// The value of a flag written `-X VALUE`, `-XVALUE`, `--long VALUE` or `--long=VALUE`.
  static func value(of flags: [String], in arguments: [String]) -> String? {
    var index = 0
    while index < arguments.count {
      let word = arguments[index]
      index += 1
      for flag in flags {
        if word == flag { return index < arguments.count ? arguments[index] : nil }
        if flag.hasPrefix("--"), word.hasPrefix(flag + "=") { return String(word.dropFirst(flag.count + 1)) }
        if !flag.hasPrefix("--"), flag.count == 2, word.hasPrefix(flag), word.count > 2 {
          return String(word.dropFirst(2))
        }
      }
    }
    return nil
  }

  /// Every value of `-c NAME=VALUE` (or `-cNAME=VALUE`, `--NAME=VALUE`) for `name`, as
  /// PostgreSQL takes its settings on the command line; the last one counts.
  static func setting(_ name: String, in arguments: [String]) -> String? {
    var found: String?
    var index = 0
    while index < arguments.count {
      let word = arguments[index]
      index += 1
      var assignment: Substring?
      if word == "-c", index < arguments.count {
        assignment = Substring(arguments[index])
        index += 1
      } else if word.hasPrefix("-c"), !word.hasPrefix("--") {
        assignment = word.dropFirst(2)
      } else if word.hasPrefix("--") {
        assignment = word.dropFirst(2)
      }
      guard let assignment, let equals = assignment.firstIndex(of: "=") else { continue }
      let key = assignment[..<equals].replacingDashes()
      if key == name { found = String(assignment[assignment.index(after: equals)...]) }
    }
    return found
  }

  /// The part of `path` before its last `/`; `nil` when there is none.
  static func directory(of path: String) -> String? {
    guard let slash = path.lastIndex(of: "/"), slash > path.startIndex else { return nil }
    return String(path[..<slash])
  }

  /// `pid 10` or `pids 10, 11, 12`.
  static func pidList(_ processes: [ProcessRecord]) -> String {
    "\(processes.count == 1 ? "pid" : "pids") \(processes.map { "\($0.pid)" }.joined(separator: ", "))"
  }

  // MARK: PostgreSQL

  /// The PostgreSQL postmaster: `postgres` or `postmaster` not retitled as a backend.
  static func isPostmaster(_ process: ProcessRecord) -> Bool {
    guard ["postgres", "postmaster"].contains(process.name) else { return false }
    let first = process.commandLine.first ?? ""
    return !first.hasPrefix("postgres:") && ["postgres", "postmaster"].contains(program(process))
  }

  /// A process the postmaster forked: a backend or an auxiliary process (`postgres: checkpointer`).
  static func isPostgresBackend(_ process: ProcessRecord) -> Bool {
    process.name == "postgres" && (process.commandLine.first ?? "").hasPrefix("postgres: ")
  }

  /// The postmaster and its backends. The data directory comes from `-D` (or
  /// `data_directory`), else the postmaster's working directory (it runs in its data
  /// directory). Stopped with SIGINT, PostgreSQL's fast shutdown: SIGTERM is a smart shutdown
  /// that waits for every client to leave.
  static let postgres: Detector = { clues in
    let master: ProcessRecord
    if isPostmaster(clues.holder) {
      master = clues.holder
    } else if isPostgresBackend(clues.holder), let parent = clues.parent, isPostmaster(parent) {
      master = parent
    } else {
      return nil
    }
    let arguments = Array(master.commandLine.dropFirst())
    // The postmaster runs in its data directory, so its working directory also settles a
    // relative -D.
    var dataDirectory = setting("data_directory", in: arguments) ?? value(of: ["-D"], in: arguments)
    if dataDirectory.map({ !$0.hasPrefix("/") }) ?? true, let cwd = master.workingDirectory {
      dataDirectory = cwd
    }
    let binary = master.executable ?? master.commandLine.first ?? ""
    let binaries = binary.hasPrefix("/") ? directory(of: binary) : nil
    let version = binary.split(separator: "/").firstIndex(of: "postgresql").flatMap { index in
      let parts = binary.split(separator: "/")
      return index + 1 < parts.count && parts[index + 1].allSatisfy(\.isNumber) ? " \(parts[index + 1])" : nil
    }
    let pgCtl = binaries.map { ShellQuoting.quote("\($0)/pg_ctl") } ?? "pg_ctl"
    let stop = dataDirectory.map { "\(pgCtl) stop -D \(ShellQuoting.quote($0)) -m fast" }
    var detail = "PostgreSQL\(version ?? "") postmaster (pid \(master.pid))"
    if let dataDirectory { detail += ", data directory \(dataDirectory)" }
    if master.pid != clues.holder.pid {
      let title = (clues.holder.commandLine.first ?? "").trimmingSpaces().description
      detail = "a backend (\(title)) of the " + detail
    }
    if let user = master.user { detail += "; pg_ctl runs as its owner, \(user)" }
    detail += "; SIGINT is its fast shutdown (SIGTERM waits for every client to leave)"
    return RecognizedServer(
      kind: .postgres, name: "PostgreSQL", detail: detail, master: master,
      workers: clues.children(of: master.pid), stopSignal: .interrupt, grace: .seconds(60), stop: stop)
  }

  // MARK: MySQL and MariaDB

  /// `mysqld` or `mariadbd`; `mysqld_safe` above it restarts it only when it dies, not after
  /// a clean shutdown.
  static let mysql: Detector = { clues in
    let holder = clues.holder
    let names = ["mysqld", "mariadbd"]
    guard names.contains(holder.name) || names.contains(program(holder)) else { return nil }
    let maria = holder.name == "mariadbd" || program(holder) == "mariadbd"
    let name = maria ? "MariaDB" : "MySQL"
    let arguments = Array(holder.commandLine.dropFirst())
    var options: [String] = []
    if let path = value(of: ["--socket"], in: arguments) {
      options = ["--socket=\(ShellQuoting.quote(path))"]
    } else if let socket = clues.socket {
      let host = socket.local.address.isWildcard ? "127.0.0.1" : "\(socket.local.address)"
      options = ["--protocol=tcp", "-h", ShellQuoting.quote(host), "-P", "\(socket.local.port)"]
    }
    var detail = "the \(name) server (pid \(holder.pid))"
    if let parent = clues.parent,
      ["mysqld_safe", "mariadbd-safe"].contains(parent.name)
        || program(parent)
          .hasPrefix("mysqld_safe")
    {
      detail += "; \(parent.name) (pid \(parent.pid)) restarts it if it dies, not after a clean shutdown"
    }
    detail += "; a clean shutdown flushes its buffers and may take minutes"
    return RecognizedServer(
      kind: .mysql, name: name, detail: detail, master: holder, workers: clues.children(of: holder.pid),
      stopSignal: .terminate, grace: .seconds(120),
      stop: (["mysqladmin"] + options + ["shutdown"]).joined(separator: " "))
  }

  // MARK: redis and memcached

  /// `redis-server` (its title is `redis-server 127.0.0.1:6379`). It may save its data set
  /// before it exits.
  static let redis: Detector = { clues in
    let holder = clues.holder
    guard holder.name == "redis-server" || program(holder) == "redis-server" else { return nil }
    var options: [String] = []
    if let socket = clues.socket {
      if !socket.local.address.isWildcard { options += ["-h", ShellQuoting.quote("\(socket.local.address)")] }
      options += ["-p", "\(socket.local.port)"]
    } else if let path = value(of: ["--unixsocket"], in: Array(holder.commandLine.dropFirst())) {
      options += ["-s", ShellQuoting.quote(path)]
    }
    return RecognizedServer(
      kind: .redis, name: "redis",
      detail: "the redis server (pid \(holder.pid)); it saves its data set first when persistence is on",
      master: holder, workers: clues.children(of: holder.pid), stopSignal: .terminate, grace: .seconds(30),
      stop: (["redis-cli"] + options + ["shutdown"]).joined(separator: " "))
  }

  /// `memcached`: keeps nothing, stops at once on SIGTERM.
  static let memcached: Detector = { clues in
    let holder = clues.holder
    guard holder.name == "memcached" || program(holder) == "memcached" else { return nil }
    return RecognizedServer(
      kind: .memcached, name: "memcached",
      detail: "the memcached server (pid \(holder.pid)); it keeps nothing on disk and exits at once on SIGTERM",
      master: holder, workers: clues.children(of: holder.pid), stopSignal: .terminate, grace: .seconds(5))
  }

  // MARK: sshd

  /// An sshd process that serves one connection (`sshd: user@pts/0`, `sshd: user [priv]`),
  /// not the listener (`sshd: /usr/sbin/sshd -D [listener] …`, or an untitled `/usr/sbin/sshd`).
  /// OpenSSH 9.8 and later run sessions as `sshd-session` (titled `sshd-session: user@pts/0`).
  static func isSSHSession(_ process: ProcessRecord) -> Bool {
    if process.name == "sshd-session" || program(process) == "sshd-session" { return true }
    guard process.name == "sshd" else { return false }
    let title = process.commandLine.first ?? ""
    // A session is titled after its user; the listener after its own command line.
    return title.hasPrefix("sshd: ") && !title.hasPrefix("sshd: /") && !title.contains("[listener]")
  }

  static func isSSHListener(_ process: ProcessRecord) -> Bool {
    (process.name == "sshd" || program(process) == "sshd") && !isSSHSession(process)
  }

  /// The OpenSSH server. Its listener is the master, stopped with SIGTERM; the session
  /// processes it forked are not its workers: they keep running when it stops. A socket held
  /// by a session process (a client's `-R` forward, X11 forwarding, the connection itself)
  /// belongs to that session.
  static let sshd: Detector = { clues in
    let holder = clues.holder
    if isSSHListener(holder) {
      let sessions = clues.children(of: holder.pid).filter(isSSHSession)
      var detail = "the OpenSSH server's listener (pid \(holder.pid))"
      if !sessions.isEmpty {
        detail +=
          "; its \(sessions.count) session process\(sessions.count == 1 ? "" : "es") (\(pidList(sessions))) "
          + "\(sessions.count == 1 ? "is" : "are") not the listener and keep\(sessions.count == 1 ? "s" : "") running when it stops"
      } else {
        detail += "; sessions it started keep running when it stops"
      }
      return RecognizedServer(
        kind: .sshd, name: "sshd", detail: detail, master: holder, stopSignal: .terminate, grace: .seconds(5))
    }
    guard isSSHSession(holder) else { return nil }
    // The session's first process: the topmost session process below the listener.
    var master = holder
    for ancestor in clues.ancestors {
      guard isSSHSession(ancestor) else { break }
      master = ancestor
    }
    let listener = ([holder] + clues.ancestors).first(where: isSSHListener)
    let title = (holder.commandLine.first ?? "").trimmingSpaces().description
    var detail = "an SSH session (\(title), pid \(master.pid))"
    if let listener { detail += " of the OpenSSH server (listener pid \(listener.pid))" }
    detail += "; stopping the listener leaves it running: it holds this socket (a client's -R or X11 forward, "
    detail += "or its connection) until the session ends"
    let workers = clues.children(of: master.pid).filter { $0.pid != master.pid }
    return RecognizedServer(
      kind: .sshd, name: "sshd session", detail: detail, master: master, workers: workers, stopSignal: .terminate,
      grace: .seconds(5))
  }

  // MARK: ssh forwards

  /// An `ssh` client forwarding a port (`-L`, `-D`, `-R`, `-o LocalForward=…`, flags in any
  /// spelling); the forward that covers the socket's port is named.
  static let sshForward: Detector = { clues in
    let holder = clues.holder
    guard holder.name == "ssh" || program(holder) == "ssh" else { return nil }
    let parsed = SSHCommandLine(arguments: Array(holder.commandLine.dropFirst()))
    guard !parsed.forwards.isEmpty else { return nil }
    let covering = clues.socket.map { parsed.forwards(listeningOn: $0.local.port) } ?? []
    let through = parsed.destination.map { " through \($0)" } ?? ""
    let detail: String
    if let forward = covering.first {
      detail = "an ssh port forward (\(forward.flag): \(forward.summary))\(through)"
    } else {
      let all = parsed.forwards.map(\.flag).joined(separator: ", ")
      let port = clues.socket.map { "; none of them listens on \($0.local.port)" } ?? ""
      detail = "an ssh client forwarding ports (\(all))\(through)\(port)"
    }
    return RecognizedServer(
      kind: .sshForward, name: covering.first?.flag ?? "ssh", detail: detail, master: holder,
      stopSignal: .terminate, grace: .seconds(5))
  }

  // MARK: Java

  /// Java servers: Spring Boot (`java -jar app.jar`, its `org.springframework.boot.loader`
  /// launchers) and Tomcat (`org.apache.catalina.startup.Bootstrap`). Both stop cleanly on
  /// SIGTERM, finishing requests in flight.
  static let java: Detector = { clues in
    let holder = clues.holder
    guard holder.name == "java" || program(holder) == "java" else { return nil }
    let arguments = Array(holder.commandLine.dropFirst())
    let workers = clues.children(of: holder.pid)
    if arguments.contains("org.apache.catalina.startup.Bootstrap") {
      let property = { (name: String) in
        arguments.first { $0.hasPrefix("-D\(name)=") }.map { String($0.dropFirst(name.count + 3)) }
      }
      let base = property("catalina.base")
      let home = property("catalina.home") ?? base
      var stop: String?
      if let home {
        let script = ShellQuoting.quote("\(home)/bin/catalina.sh")
        let prefix = base.flatMap { $0 == home ? nil : "CATALINA_BASE=\(ShellQuoting.quote($0)) " } ?? ""
        stop = "\(prefix)\(script) stop"
      }
      let place = base.map { ", catalina.base \($0)" } ?? ""
      return RecognizedServer(
        kind: .java, name: "Tomcat", detail: "Apache Tomcat (pid \(holder.pid)\(place))", master: holder,
        workers: workers, stopSignal: .terminate, grace: .seconds(30), stop: stop)
    }
    let springLoader = arguments.first { $0.hasPrefix("org.springframework.boot.loader") }
    let jar = value(of: ["-jar"], in: arguments)
    guard springLoader != nil || jar != nil else { return nil }
    let what = jar.map { " (\($0))" } ?? ""
    let detail =
      springLoader != nil
      ? "a Spring Boot application\(what), pid \(holder.pid); it shuts down gracefully on SIGTERM"
      : "a Java application run from a jar\(what), pid \(holder.pid); Spring Boot and most jar servers shut down cleanly on SIGTERM"
    return RecognizedServer(
      kind: .java, name: springLoader != nil ? "Spring Boot" : "Java", detail: detail, master: holder,
      workers: workers, stopSignal: .terminate, grace: .seconds(30))
  }

  // MARK: systemd socket activation

  /// A listener systemd holds for a `.socket` unit (pid 1 holding it), or a service it started
  /// from one (the holder's cgroup names a `.service` the socket unit activates). Needs
  /// ``Clues/socketUnits`` (`systemctl list-sockets`), which ``ProvenanceReader`` reads.
  static let systemdSocket: Detector = { clues in
    guard let socket = clues.socket, !clues.socketUnits.isEmpty else { return nil }
    let holder = clues.holder
    let isSystemd = holder.pid == 1 && (holder.name == "systemd" || program(holder) == "systemd")
    let service = RespawnRisk.systemdService(holder.controlGroup)
    guard isSystemd || service != nil else { return nil }
    let matching = clues.socketUnits.filter { $0.covers(socket.local) }
    let unit: SystemdSocketUnit?
    if isSystemd {
      unit = matching.first
    } else if let service {
      unit = matching.first { $0.activates(service) }
    } else {
      unit = nil
    }
    guard let unit else { return nil }
    let target = service ?? unit.activates.first ?? unit.defaultService
    let stop = "systemctl stop \(ShellQuoting.quote(unit.unit)) \(ShellQuoting.quote(target))"
    let detail =
      isSystemd
      ? "systemd holds this listener for the socket unit \(unit.unit), which starts \(target) on a connection; "
        + "stopping the service alone leaves systemd listening"
      : "started by systemd from the socket unit \(unit.unit) as \(target); systemd keeps listening and starts it "
        + "again on the next connection unless the socket unit stops too"
    return RecognizedServer(
      kind: .systemdSocket, name: unit.unit, detail: detail, master: holder,
      workers: isSystemd ? [] : clues.children(of: holder.pid), stopSignal: .terminate, grace: .seconds(90),
      stop: stop)
  }
}

extension Substring {
  /// With `-` written `_` (PostgreSQL accepts `--data-directory` for `data_directory`).
  fileprivate func replacingDashes() -> String {
    String(map { $0 == "-" ? "_" : $0 })
  }
}
