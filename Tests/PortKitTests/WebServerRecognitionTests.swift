import Testing

@testable import PortKit

/// The web and application server detectors on synthetic process trees.
@Suite struct WebServerRecognitionTests {
  private func process(_ pid: PID, _ ppid: PID, _ name: String, _ commandLine: [String]) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: ppid, name: name, commandLine: commandLine)
  }

  private let shell = ProcessRecord(pid: 50, ppid: 1, name: "bash", commandLine: ["-bash"])
  private let initProcess = ProcessRecord(pid: 1, ppid: 0, name: "systemd", commandLine: ["/sbin/init"])

  private func recognize(
    _ holder: ProcessRecord, ancestors: [ProcessRecord], children: [PID: [ProcessRecord]] = [:],
    environment: [String: String]? = nil, childEnvironments: [PID: [String: String]] = [:]
  ) -> RecognizedServer? {
    ServerRecognition.recognize(
      .init(
        holder: holder, ancestors: ancestors, children: children, environment: environment, socket: nil,
        childEnvironments: childEnvironments))
  }

  // MARK: nginx

  private var nginxMaster: ProcessRecord {
    process(
      100, 1, "nginx",
      ["nginx: master process /usr/sbin/nginx -c /srv/site/nginx.conf -p /srv/site -g daemon off; pid /tmp/n.pid;"])
  }
  private var nginxWorkers: [ProcessRecord] {
    [
      process(101, 100, "nginx", ["nginx: worker process"]), process(102, 100, "nginx", ["nginx: worker process"]),
      process(103, 100, "nginx", ["nginx: cache manager process"]),
    ]
  }

  @Test func nginxWorkerHolderLeadsToItsMasterWithTheMastersOptionsInTheStopCommand() throws {
    let server = try #require(
      recognize(
        nginxWorkers[0], ancestors: [nginxMaster, initProcess],
        children: [101: [], 100: nginxWorkers]))
    #expect(server.kind == .nginx)
    #expect(server.master.pid == 100)
    #expect(server.workers.map(\.pid) == [101, 102, 103])
    #expect(server.stopSignal == .quit)
    #expect(server.grace == .seconds(10))
    #expect(
      server.stop == "/usr/sbin/nginx -c /srv/site/nginx.conf -p /srv/site -g 'daemon off; pid /tmp/n.pid;' -s quit")
  }

  @Test func nginxMasterHolderFromItsRealArgumentsQuotesEveryValue() throws {
    let master = process(
      100, 50, "nginx", ["/opt/nginx/sbin/nginx", "-c", "/tmp/a b;rm -rf ~/n.conf", "-g", "daemon off;"])
    let server = try #require(recognize(master, ancestors: [shell, initProcess], children: [100: nginxWorkers]))
    #expect(server.master.pid == 100)
    #expect(server.workers.map(\.pid) == [101, 102, 103])
    #expect(server.stop == "/opt/nginx/sbin/nginx -c '/tmp/a b;rm -rf ~/n.conf' -g 'daemon off;' -s quit")
    let titled = process(100, 1, "nginx", ["nginx: master process nginx -c/etc/x.conf"])
    #expect(recognize(titled, ancestors: [initProcess])?.stop == "nginx -c /etc/x.conf -s quit")
    // In a title a value runs to the next flag, with its spaces.
    let spaced = process(
      100, 1, "nginx", ["nginx: master process /opt/my nginx/nginx -p /srv/my  site/ -c conf/it's.conf -g pid x;"])
    #expect(
      recognize(spaced, ancestors: [initProcess])?.stop
        == #"'/opt/my nginx/nginx' -p '/srv/my  site/' -c 'conf/it'"'"'s.conf' -g 'pid x;' -s quit"#)
  }

  @Test func nginxLookAlikesAreNotMasters() {
    // A worker title under a shell: no master to lead it.
    let orphan = process(200, 50, "nginx", ["nginx: worker process"])
    #expect(recognize(orphan, ancestors: [shell, initProcess]) == nil)
    // A python script calling itself an nginx worker, under a real nginx master.
    let fake = process(201, 100, "python3", ["nginx: worker process"])
    #expect(recognize(fake, ancestors: [nginxMaster, initProcess], children: [100: nginxWorkers + [fake]]) == nil)
    // A master's children that are not nginx workers are not its workers.
    let helper = process(104, 100, "sh", ["sh", "-c", "logger"])
    let server = recognize(nginxMaster, ancestors: [initProcess], children: [100: nginxWorkers + [helper]])
    #expect(server?.workers.map(\.pid) == [101, 102, 103])
    // A program that only mentions nginx.
    let editor = process(202, 50, "vim", ["vim", "nginx.conf"])
    #expect(recognize(editor, ancestors: [shell]) == nil)
  }

  // MARK: Apache

  @Test func apacheChildLeadsToTheParentWithApache2ctl() throws {
    let master = process(300, 1, "apache2", ["/usr/sbin/apache2", "-k", "start"])
    let children = [
      process(301, 300, "apache2", ["/usr/sbin/apache2", "-k", "start"]),
      process(302, 300, "apache2", ["/usr/sbin/apache2", "-k", "start"]),
    ]
    let server = try #require(
      recognize(children[1], ancestors: [master, initProcess], children: [302: [], 300: children]))
    #expect(server.kind == .apache)
    #expect(server.master.pid == 300)
    #expect(server.workers.map(\.pid) == [301, 302])
    #expect(server.stop == "apache2ctl stop")
    #expect(server.stopSignal == .terminate)
    let httpd = process(310, 1, "httpd", ["/usr/sbin/httpd", "-d", "/srv/my site", "-f", "conf/h.conf"])
    #expect(
      recognize(httpd, ancestors: [initProcess])?.stop
        == "apachectl -d '/srv/my site' -f conf/h.conf -k graceful-stop")
  }

  // MARK: gunicorn

  private let gunicornLine = [
    "/usr/bin/python3", "/usr/local/bin/gunicorn", "-w", "2", "--graceful-timeout", "12", "app:app",
  ]

  @Test func gunicornWorkerHolderLeadsToTheArbiterWithItsGracefulTimeout() throws {
    let arbiter = process(400, 50, "gunicorn", gunicornLine)
    let workers = [process(401, 400, "gunicorn", gunicornLine), process(402, 400, "gunicorn", gunicornLine)]
    let server = try #require(
      recognize(workers[0], ancestors: [arbiter, shell, initProcess], children: [401: [], 400: workers]))
    #expect(server.kind == .gunicorn)
    #expect(server.master.pid == 400)
    #expect(server.workers.map(\.pid) == [401, 402])
    #expect(server.stopSignal == .terminate)
    #expect(server.grace == .seconds(17))
    #expect(server.stop == nil)
    // The arbiter itself, and the default graceful timeout.
    let plain = process(400, 50, "gunicorn", ["gunicorn", "app:app"])
    let own = try #require(recognize(plain, ancestors: [shell], children: [400: workers]))
    #expect(own.master.pid == 400)
    #expect(own.grace == .seconds(35))
    // The option in GUNICORN_CMD_ARGS counts too.
    let fromEnvironment = recognize(
      plain, ancestors: [shell], children: [400: workers],
      environment: ["GUNICORN_CMD_ARGS": "--bind=127.0.0.1:8000 --graceful-timeout=60"])
    #expect(fromEnvironment?.grace == .seconds(65))
  }

  @Test func gunicornTitlesFromSetproctitle() throws {
    let arbiter = process(410, 50, "gunicorn", ["gunicorn: master [app:app]"])
    let worker = process(411, 410, "gunicorn", ["gunicorn: worker [app:app]"])
    let server = try #require(recognize(worker, ancestors: [arbiter, shell], children: [410: [worker]]))
    #expect(server.master.pid == 410)
    #expect(server.workers.map(\.pid) == [411])
    // A worker title under a shell leads nothing.
    #expect(recognize(worker, ancestors: [shell]) == nil)
    // An arbiter started by another arbiter (a binary upgrade) leads its own workers.
    let upgraded = process(420, 410, "gunicorn", ["gunicorn: master [app:app]"])
    #expect(recognize(upgraded, ancestors: [arbiter, shell])?.master.pid == 420)
  }

  @Test func gunicornLookAlikes() {
    let script = process(430, 50, "python3", ["python3", "deploy.py", "--restart", "gunicorn"])
    #expect(recognize(script, ancestors: [shell]) == nil)
    let pythonC = process(431, 50, "python3", ["python3", "-c", "import gunicorn"])
    #expect(recognize(pythonC, ancestors: [shell]) == nil)
  }

  // MARK: uvicorn and hypercorn

  @Test func uvicornWorkerLeadsToTheSupervisorAndTheResourceTrackerIsNoWorker() throws {
    let supervisor = process(
      500, 50, "uvicorn", ["/usr/bin/python3", "/usr/local/bin/uvicorn", "--workers", "2", "app:app"])
    let spawn = { (pid: PID, handle: Int) in
      self.process(
        pid, 500, "python3",
        [
          "/usr/bin/python3", "-B", "-c",
          "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=7, pipe_handle=\(handle))",
          "--multiprocessing-fork",
        ])
    }
    let tracker = process(
      501, 500, "python3",
      ["/usr/bin/python3", "-B", "-c", "from multiprocessing.resource_tracker import main;main(6)"])
    let children = [tracker, spawn(502, 9), spawn(503, 14)]
    let server = try #require(
      recognize(children[1], ancestors: [supervisor, shell], children: [502: [], 500: children]))
    #expect(server.kind == .uvicorn)
    #expect(server.master.pid == 500)
    #expect(server.workers.map(\.pid) == [502, 503])
    #expect(server.stopSignal == .terminate)
    // A multiprocessing child of something else is nothing.
    let other = process(600, 50, "python3", ["python3", "job.py"])
    #expect(recognize(spawn(601, 3), ancestors: [other, shell]) == nil)
    // hypercorn in the same shape, with its graceful timeout.
    let hypercorn = process(
      700, 50, "hypercorn", ["hypercorn", "--workers", "2", "--graceful-timeout", "4", "app:app"])
    let hyper = try #require(recognize(hypercorn, ancestors: [shell], children: [700: [spawn(701, 5)]]))
    #expect(hyper.kind == .hypercorn)
    #expect(hyper.master.pid == 700)
    #expect(hyper.grace == .seconds(9))
  }

  // MARK: Reloaders

  @Test func werkzeugChildAndReloaderBothNameTheReloader() throws {
    let reloader = process(800, 50, "flask", ["/usr/bin/python3", "/usr/local/bin/flask", "run", "--reload"])
    let child = process(801, 800, "python3", ["/usr/bin/python3", "/usr/local/bin/flask", "run", "--reload"])
    let fromChild = try #require(
      recognize(
        child, ancestors: [reloader, shell], children: [801: [], 800: [child]],
        environment: ["WERKZEUG_RUN_MAIN": "true"]))
    #expect(fromChild.kind == .werkzeug)
    #expect(fromChild.master.pid == 800)
    #expect(fromChild.workers.map(\.pid) == [801])
    #expect(fromChild.name == "Flask development server")
    let fromReloader = try #require(
      recognize(
        reloader, ancestors: [shell], children: [800: [child]], environment: [:],
        childEnvironments: [801: ["WERKZEUG_RUN_MAIN": "true"]]))
    #expect(fromReloader.master.pid == 800)
    #expect(fromReloader.workers.map(\.pid) == [801])
  }

  @Test func reloaderLookAlikes() {
    // The marker in its own environment, but its parent is a shell.
    let lone = process(810, 50, "python3", ["python3", "app.py"])
    #expect(recognize(lone, ancestors: [shell], environment: ["WERKZEUG_RUN_MAIN": "true"]) == nil)
    // A parent running something else.
    let parent = process(811, 50, "python3", ["python3", "other.py"])
    let child = process(812, 811, "python3", ["python3", "app.py"])
    #expect(recognize(child, ancestors: [parent, shell], environment: ["WERKZEUG_RUN_MAIN": "true"]) == nil)
    // A python holder whose child lacks the marker.
    #expect(recognize(parent, ancestors: [shell], children: [811: [child]], childEnvironments: [812: [:]]) == nil)
  }

  @Test func djangoRunserverChildLeadsToTheAutoreloader() throws {
    let outer = process(900, 50, "python3", ["python3", "manage.py", "runserver", "8000"])
    let child = process(901, 900, "python3", ["/usr/bin/python3", "/srv/app/manage.py", "runserver", "8000"])
    let server = try #require(
      recognize(child, ancestors: [outer, shell], children: [900: [child]], environment: ["RUN_MAIN": "true"]))
    #expect(server.kind == .django)
    #expect(server.master.pid == 900)
    #expect(server.workers.map(\.pid) == [901])
    // RUN_MAIN without runserver is not Django's.
    let script = process(902, 900, "python3", ["python3", "manage.py", "migrate"])
    #expect(recognize(script, ancestors: [outer, shell], environment: ["RUN_MAIN": "true"]) == nil)
  }

  // MARK: node cluster

  @Test func nodeClusterPrimaryAndWorker() throws {
    let primary = process(1000, 50, "node", ["node", "server.js"])
    let workers = [
      process(1001, 1000, "node", ["node", "server.js"]), process(1002, 1000, "node", ["node", "server.js"]),
    ]
    let helper = process(1003, 1000, "node", ["node", "tsc-watch.js"])
    let marked: [PID: [String: String]] = [1001: ["NODE_UNIQUE_ID": "1"], 1002: ["NODE_UNIQUE_ID": "2"], 1003: [:]]
    let fromPrimary = try #require(
      recognize(primary, ancestors: [shell], children: [1000: workers + [helper]], childEnvironments: marked))
    #expect(fromPrimary.kind == .nodeCluster)
    #expect(fromPrimary.master.pid == 1000)
    #expect(fromPrimary.workers.map(\.pid) == [1001, 1002])
    let fromWorker = try #require(
      recognize(
        workers[1], ancestors: [primary, shell], children: [1002: [], 1000: workers + [helper]],
        environment: ["NODE_UNIQUE_ID": "2"], childEnvironments: [1001: ["NODE_UNIQUE_ID": "1"], 1003: [:]]))
    #expect(fromWorker.master.pid == 1000)
    #expect(fromWorker.workers.map(\.pid) == [1001, 1002])
  }

  @Test func nodeLookAlikes() {
    // A node process with node children that are not cluster workers.
    let parent = process(1100, 50, "node", ["node", "build.js"])
    let child = process(1101, 1100, "node", ["node", "worker.js"])
    #expect(recognize(parent, ancestors: [shell], children: [1100: [child]], childEnvironments: [1101: [:]]) == nil)
    // NODE_UNIQUE_ID set by hand under a shell.
    #expect(recognize(child, ancestors: [shell], environment: ["NODE_UNIQUE_ID": "1"]) == nil)
  }

  // MARK: Odd input

  @Test func oddInputNeverCrashes() {
    let odd: [[String]] = [
      [], [""], [" "], ["nginx: master process"], ["nginx: master process nginx -c"], ["nginx: master process -g"],
      ["gunicorn", "--graceful-timeout"], ["gunicorn", "--graceful-timeout=1e300"],
      ["gunicorn", "--graceful-timeout=-5"],
      ["python3", "-m"], ["python3", "-W"], ["httpd", "-f"], ["uvicorn", "--timeout-graceful-shutdown=nan"],
      [String(repeating: "nginx: master process nginx -g x ", count: 20_000)],
      Array(repeating: "-c", count: 10_000),
    ]
    for line in odd {
      for name in ["nginx", "gunicorn", "python3", "httpd", "uvicorn", "node", "flask"] {
        let holder = process(1200, 1201, name, line)
        let parent = process(1201, 1, name, line)
        _ = recognize(
          holder, ancestors: [parent], children: [1200: [parent], 1201: [holder]],
          environment: ["WERKZEUG_RUN_MAIN": "true", "RUN_MAIN": "true", "NODE_UNIQUE_ID": "1"])
        _ = recognize(holder, ancestors: [], children: [:], environment: nil)
      }
    }
  }
}
