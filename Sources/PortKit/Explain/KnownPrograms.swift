/// The programs `explain` names, with the words that give each away in its own output, and
/// the protocol it serves when its message does not say (HTTP servers, databases, brokers:
/// TCP; `nil`: it serves both, or the message must say).
///
/// The table is searched in order and the first program with a marker in the text wins, so a
/// server or framework comes before the runtime it runs on (gunicorn before Python, Vite
/// before Node.js, Caddy before Go, MariaDB before MySQL). Markers are matched in the
/// lowercased text; a marker that starts with `^` must start a line.
struct ProgramSignature: Sendable {
  var name: String
  var markers: [String]
  var proto: TransportProtocol?
  /// It listens on UDP too and says "listening" of that (DNS, VPN, VoIP servers), so its
  /// "listen" does not mean TCP.
  var datagram: Bool

  init(_ name: String, _ markers: [String], _ proto: TransportProtocol? = nil, datagram: Bool = false) {
    self.name = name
    self.markers = markers
    self.proto = proto
    self.datagram = datagram || proto == .udp
  }
}

enum KnownPrograms {
  /// What `explain` calls a program none of the signatures name.
  static let unnamed = "a program"

  static let signatures: [ProgramSignature] =
    containers + javaServers + dotnet + javascript + python + ruby + php
    + perlAndOthers + goAndRust + webServers + network + databases + runtimes

  static let containers: [ProgramSignature] = [
    ProgramSignature("Docker Compose", ["cannot start service", "docker-compose", "docker compose"]),
    ProgramSignature(
      "Docker",
      [
        "error response from daemon", "port is already allocated", "ports are not available",
        "driver failed programming external connectivity", "docker-proxy", "docker: ", "docker desktop", "dockerd",
      ]),
    ProgramSignature("Podman", ["podman", "rootlessport"]),
    ProgramSignature("kubectl port-forward", ["unable to listen on port", "unable to create listener"], .tcp),
    ProgramSignature("minikube", ["minikube"]),
    ProgramSignature("Vagrant", ["vagrant"]),
    ProgramSignature("adb (Android Debug Bridge)", ["adb server", "android debug bridge", "adb.exe", "^adb: "], .tcp),
    ProgramSignature("WSL", ["wslrelay", "wsl2"]),
  ]

  static let javaServers: [ProgramSignature] = [
    ProgramSignature(
      "Spring Boot",
      [
        "web server failed to start", "springframework.boot", "spring boot", "failureanalysis",
        "error starting applicationcontext",
      ], .tcp),
    ProgramSignature("Keycloak", ["keycloak"], .tcp),
    ProgramSignature("Quarkus", ["quarkus"], .tcp),
    ProgramSignature("Micronaut", ["micronaut"], .tcp),
    ProgramSignature("WildFly", ["wildfly", "jboss", "undertow"], .tcp),
    ProgramSignature("Tomcat", ["org.apache.catalina", "org.apache.coyote", "catalina", "tomcat", "http-nio-"], .tcp),
    ProgramSignature("Jetty", ["org.eclipse.jetty", "jetty"], .tcp),
    ProgramSignature("Elasticsearch", ["elasticsearch", "bindtransportexception"], .tcp),
    ProgramSignature("Kafka", ["kafka"], .tcp),
    ProgramSignature("ZooKeeper", ["zookeeper"], .tcp),
    ProgramSignature("Jenkins", ["jenkins", "hudson"], .tcp),
    ProgramSignature("Minecraft server", ["minecraft", "failed to bind to port"], .tcp),
    ProgramSignature("Vert.x", ["io.vertx"]),
    ProgramSignature("Netty", ["io.netty"]),
    ProgramSignature("JDWP (Java debugger)", ["jdwp", "dt_socket"], .tcp),
    ProgramSignature("Gradle", ["gradle daemon"], .tcp),
  ]

  static let dotnet: [ProgramSignature] = [
    ProgramSignature("gRPC", ["grpc", "failed to add port to server"], .tcp),
    ProgramSignature("IIS Express", ["iis express", "iisexpress", "failed to register url", "0x80070020"], .tcp),
    ProgramSignature("IIS", ["http.sys", "w3svc"], .tcp),
    ProgramSignature(
      "ASP.NET Core (Kestrel)", ["failed to bind to address", "microsoft.aspnetcore", "aspnetcore", "kestrel"], .tcp),
    ProgramSignature(
      ".NET", ["system.net.sockets.socketexception", "system.net.httplistenerexception", "system.io.ioexception"]),
  ]

  static let javascript: [ProgramSignature] = [
    ProgramSignature("Next.js", ["next.js", "next dev", "next start", "▲ next"], .tcp),
    ProgramSignature("Nuxt", ["nuxt"], .tcp),
    ProgramSignature("Vite", ["vite", "error when starting dev server"], .tcp),
    ProgramSignature("webpack-dev-server", ["webpack-dev-server", "webpack dev server", "[webpack-cli]"], .tcp),
    ProgramSignature("Create React App", ["something is already running on port", "react-scripts"], .tcp),
    ProgramSignature(
      "Angular CLI", ["@angular", "angular", "^> ng serve", "use '--port' to specify a different port"], .tcp),
    ProgramSignature("Vue CLI", ["vue-cli-service", "@vue/cli"], .tcp),
    ProgramSignature("Gatsby", ["gatsby"], .tcp),
    ProgramSignature("Remix", ["remix"], .tcp),
    ProgramSignature("Astro", ["astro"], .tcp),
    ProgramSignature("Parcel", ["parcel"], .tcp),
    ProgramSignature("Storybook", ["storybook"], .tcp),
    ProgramSignature("Expo", ["expo start", "@expo"], .tcp),
    ProgramSignature("Metro (React Native)", ["metro", "react-native"], .tcp),
    ProgramSignature("Nodemon", ["[nodemon]"]),
    ProgramSignature("serve", ["serve/bin/serve.js", "serve\\bin\\serve.js", "failed to serve:"], .tcp),
    ProgramSignature("webpack-monitor", ["webpack-monitor"], .tcp),
    ProgramSignature("Express", ["/express/lib/", "express/lib/application"], .tcp),
    ProgramSignature("Fastify", ["fastify"], .tcp),
    ProgramSignature("NestJS", ["nestjs", "nestapplication"], .tcp),
    ProgramSignature("Deno", ["deno", " addrinuse: address already in use"]),
    ProgramSignature("Bun", ["bun v", "bun.serve", "failed to start server. is port"], .tcp),
    ProgramSignature("Node.js inspector", ["starting inspector on"], .tcp),
  ]

  static let python: [ProgramSignature] = [
    ProgramSignature("Flower", ["flower"], .tcp),
    ProgramSignature("Locust", ["locust"], .tcp),
    ProgramSignature("TensorBoard", ["tensorboard"], .tcp),
    ProgramSignature("urllib3", ["urllib3"], .tcp),
    ProgramSignature(
      "uvicorn",
      [
        "uvicorn", "waiting for application startup", "started server process", "application startup complete",
        "^error:    [errno",
      ],
      .tcp),
    ProgramSignature("gunicorn", ["gunicorn"], .tcp),
    ProgramSignature("Hypercorn", ["hypercorn"], .tcp),
    ProgramSignature("Granian", ["granian"], .tcp),
    ProgramSignature("Daphne", ["daphne", "configuring endpoint tcp:", "listen failure: couldn't listen"], .tcp),
    ProgramSignature("waitress", ["waitress"], .tcp),
    ProgramSignature("CherryPy", ["cherrypy", "portend"], .tcp),
    ProgramSignature("Bottle", ["bottle v", "bottle.py"], .tcp),
    ProgramSignature("Sanic", ["sanic"], .tcp),
    ProgramSignature("Tornado", ["tornado"], .tcp),
    ProgramSignature("aiohttp", ["aiohttp"], .tcp),
    ProgramSignature("aiosmtpd", ["aiosmtpd"], .tcp),
    ProgramSignature("Jupyter Server", ["jupyter_server", "jupyter server", "jupyter-server"], .tcp),
    ProgramSignature("Jupyter", ["jupyter", "notebookapp", "serverapp"], .tcp),
    ProgramSignature("aiohttp-devtools", ["aiohttp-devtools", "aiohttp_devtools"], .tcp),
    ProgramSignature("Pelican", ["pelican", "getpelican"], .tcp),
    ProgramSignature("ZeroMQ (pyzmq)", ["zmq"]),
    ProgramSignature("Streamlit", ["streamlit"], .tcp),
    ProgramSignature("MkDocs", ["mkdocs"], .tcp),
    ProgramSignature(
      "Django", ["that port is already in use", "that ip address can't be assigned to", "django"], .tcp),
    ProgramSignature("Flask", ["serving flask app", "flask"], .tcp),
    ProgramSignature("Werkzeug", ["is in use by another program", "werkzeug"], .tcp),
    ProgramSignature("eventlet", ["eventlet"]),
    ProgramSignature("BACpypes", ["bacpypes"], .udp),
    ProgramSignature("gevent", ["gevent"]),
    ProgramSignature("Twisted", ["twisted", "twistd", "cannotlistenerror"]),
    ProgramSignature("Home Assistant", ["homeassistant", "home assistant"], .tcp),
    ProgramSignature("mitmproxy", ["mitmproxy", "mitmdump"], .tcp),
  ]

  static let ruby: [ProgramSignature] = [
    ProgramSignature("puma-dev", ["puma-dev"]),
    ProgramSignature("Puma", ["puma"], .tcp),
    ProgramSignature("WEBrick", ["webrick"], .tcp),
    ProgramSignature("Thin", ["thin web server", "thin-"], .tcp),
    ProgramSignature("Unicorn", ["unicorn"], .tcp),
    ProgramSignature("EventMachine", ["eventmachine", "no acceptor"]),
    ProgramSignature("Rails", ["rails", "railties"], .tcp),
    ProgramSignature("SiriProxy", ["siriproxy"], .tcp),
    ProgramSignature("Jekyll", ["jekyll"], .tcp),
  ]

  static let php: [ProgramSignature] = [
    ProgramSignature("Laravel", ["artisan serve", "laravel"], .tcp),
    ProgramSignature("Symfony", ["symfony"], .tcp),
    ProgramSignature("PHP built-in server", ["(reason: ", "php -s"], .tcp),
    ProgramSignature("PocketMine-MP", ["pocketmine"], .udp),
    ProgramSignature("PHP", ["php warning", "php fatal", "stream_socket_server", "socket_bind", "fsockopen"]),
  ]

  static let perlAndOthers: [ProgramSignature] = [
    ProgramSignature("Mojolicious", ["mojolicious", "mojo", "morbo", "hypnotoad"], .tcp),
    ProgramSignature("EMQX", ["emqx"], .tcp),
    ProgramSignature("inets httpd", ["httpd_acceptor_sup", "httpd_instance_sup", "inets"], .tcp),
    ProgramSignature("Plack (plackup)", ["plackup", "starman", "plack"], .tcp),
    ProgramSignature("spamd (SpamAssassin)", ["spamd", "spamassassin"], .tcp),
    ProgramSignature("Perl", ["io::socket", "perl"]),
    ProgramSignature("Tcl", ["couldn't open socket"]),
    ProgramSignature("Lua", ["lua5.", "^lua:", "luasocket"]),
    ProgramSignature("Lustre (Gleam)", ["lustre"], .tcp),
    ProgramSignature("Phoenix", ["phoenix"], .tcp),
    ProgramSignature("Elixir", ["(elixir", "elixir"]),
    ProgramSignature("RabbitMQ", ["rabbitmq", "rabbit"], .tcp),
    ProgramSignature("CouchDB", ["couchdb"], .tcp),
    ProgramSignature(
      "Erlang",
      ["{error,eaddrinuse}", "{error,eacces}", "{error,eaddrnotavail}", "init terminating", "erl_", "ranch_tcp"]),
  ]

  static let goAndRust: [ProgramSignature] = [
    ProgramSignature("Caddy", ["caddy"], .tcp),
    ProgramSignature("GoProxy", ["goproxy"], .tcp),
    ProgramSignature("Ollama", ["ollama"], .tcp),
    ProgramSignature("ALVR", ["alvr"]),
    ProgramSignature("Traefik", ["traefik"], .tcp),
    ProgramSignature("Hugo", ["hugo"], .tcp),
    ProgramSignature("Grafana", ["grafana"], .tcp),
    ProgramSignature("Prometheus", ["prometheus"], .tcp),
    ProgramSignature("etcd", ["etcd"], .tcp),
    ProgramSignature("Consul", ["consul"]),
    ProgramSignature("Vault", ["vault"], .tcp),
    ProgramSignature("Syncthing", ["syncthing"]),
    ProgramSignature("MinIO", ["minio server", "minio/minio"], .tcp),
    ProgramSignature("node_exporter", ["node_exporter"], .tcp),
    ProgramSignature("Gitea", ["gitea", "forgejo"], .tcp),
    ProgramSignature("CockroachDB", ["cockroach"], .tcp),
    ProgramSignature("NATS Server", ["nats-server", "nats server"], .tcp),
    ProgramSignature("CoreDNS", ["coredns"], datagram: true),
    ProgramSignature("Envoy", ["envoy"], .tcp),
    ProgramSignature("Actix", ["actix"], .tcp),
    ProgramSignature("Rocket", ["rocket"], .tcp),
    ProgramSignature("Axum (hyper)", ["axum", "hyper::"], .tcp),
    ProgramSignature("Vapor", ["[ notice ] server starting on", "vapor"], .tcp),
    ProgramSignature("Hummingbird", ["hummingbird"], .tcp),
    ProgramSignature("SwiftNIO", ["bind(descriptor:ptr:bytes:)", "niocore", "nioposix"]),
  ]

  static let webServers: [ProgramSignature] = [
    ProgramSignature("nginx", ["nginx", "[emerg]"], .tcp),
    ProgramSignature("Apache httpd", ["ah00072", "make_sock", "apache2", "apache/2", "httpd.conf"], .tcp),
    ProgramSignature("lighttpd", ["lighttpd", "network.c."], .tcp),
    ProgramSignature("HAProxy", ["haproxy"], .tcp),
    ProgramSignature("Varnish", ["varnish", "could not get socket", "(-? gives usage)"], .tcp),
    ProgramSignature("Squid", ["squid", "commbind"], .tcp),
    ProgramSignature("H2O", ["h2o"], .tcp),
    ProgramSignature("nghttpx", ["nghttpx", "shrpx"], .tcp),
    ProgramSignature("Hitch", ["hitch["], .tcp),
    ProgramSignature("mini_httpd", ["mini_httpd"], .tcp),
    ProgramSignature("thttpd", ["thttpd"], .tcp),
    ProgramSignature("BusyBox httpd", ["^httpd: bind:", "busybox httpd"], .tcp),
    ProgramSignature("BusyBox nc", ["^nc: bind:"]),
    ProgramSignature("webfs", ["webfsd"], .tcp),
    ProgramSignature("darkhttpd", ["darkhttpd"], .tcp),
    ProgramSignature("uWSGI", ["uwsgi"]),
    ProgramSignature("stunnel", ["stunnel"], .tcp),
    ProgramSignature("tinyproxy", ["tinyproxy"], .tcp),
    ProgramSignature("Privoxy", ["privoxy"], .tcp),
  ]

  static let databases: [ProgramSignature] = [
    ProgramSignature("Redis", ["redis", "could not create server tcp listening socket"], .tcp),
    ProgramSignature("Valkey", ["valkey"], .tcp),
    ProgramSignature(
      "PostgreSQL",
      ["postgres", "postgresql", "postmaster", "could not bind ipv4 address", "could not bind ipv6 address"], .tcp),
    ProgramSignature("MariaDB", ["mariadb"], .tcp),
    ProgramSignature("MySQL", ["mysqld", "mysql", "bind on tcp/ip port"], .tcp),
    ProgramSignature("MongoDB", ["mongod", "mongodb", "initandlisten"], .tcp),
    ProgramSignature("ClickHouse", ["clickhouse", "poco::exception"], .tcp),
    ProgramSignature("Cassandra", ["cassandra"], .tcp),
    ProgramSignature("InfluxDB", ["influxd", "influxdb"], .tcp),
    ProgramSignature(
      "memcached",
      [
        "memcached", "failed to listen on tcp port", "failed to listen on udp port",
        "failed to listen on one of interface",
      ],
      .tcp),
  ]

  static let network: [ProgramSignature] = [
    ProgramSignature("Mumble server (murmurd)", ["murmur", "murmurd", "mumble-server"]),
    ProgramSignature("CUPS (cupsd)", ["cupsd", "/cups/"], .tcp),
    ProgramSignature("ser2net", ["ser2net"], .tcp),
    ProgramSignature("telnet", ["^telnet: "], .tcp),
    ProgramSignature(
      "OpenSSH",
      [
        "channel_setup_fwd_listener", "could not request local forwarding", "port forwarding failed", "^ssh: ",
        "cannot bind any address", "sshd", "^bind [",
      ], .tcp),
    ProgramSignature("socat", ["socat["]),
    ProgramSignature("Ncat", ["ncat: "]),
    ProgramSignature("netcat", ["nc.openbsd", "nc.traditional", "netcat", "can't grab"]),
    ProgramSignature("curl", ["curl: ("]),
    ProgramSignature("dnsmasq", ["dnsmasq"], datagram: true),
    ProgramSignature("BIND", ["starting bind 9", "named["], datagram: true),
    ProgramSignature("Unbound", ["unbound["], datagram: true),
    ProgramSignature("NSD", ["nsd["], datagram: true),
    ProgramSignature("Knot DNS", ["knotd", "knot dns"], datagram: true),
    ProgramSignature("PowerDNS Recursor", ["pdns_recursor", "pdns-recursor", "powerdns recursor"], datagram: true),
    ProgramSignature("PowerDNS Authoritative Server", ["pdns_server", "powerdns authoritative"], datagram: true),
    ProgramSignature("PowerDNS", ["pdns", "powerdns"], datagram: true),
    ProgramSignature("systemd-resolved", ["systemd-resolved"], datagram: true),
    ProgramSignature("Dovecot", ["dovecot", "service(imap-login)", "service(pop3-login)"], .tcp),
    ProgramSignature("Postfix", ["postfix"], .tcp),
    ProgramSignature("Exim", ["exim"], .tcp),
    ProgramSignature("ngIRCd", ["ngircd"], .tcp),
    ProgramSignature("coturn", ["coturn", "turnserver"], datagram: true),
    ProgramSignature("Mosquitto", ["mosquitto"], .tcp),
    ProgramSignature("OpenVPN", ["openvpn"], datagram: true),
    ProgramSignature("WireGuard", ["wireguard", "wg-quick"], .udp),
    ProgramSignature("iperf3", ["iperf3"], .tcp),
    ProgramSignature("iperf", ["iperf", "listener bind failed"], .tcp),
    ProgramSignature("Tor", ["tor", "[warn] could not bind"], .tcp),
    ProgramSignature("Dante", ["danted", "sockd"], .tcp),
    ProgramSignature("Dropbear", ["dropbear"], .tcp),
    ProgramSignature("ss-server (shadowsocks-libev)", ["ss-server"]),
    ProgramSignature("ss-local (shadowsocks-libev)", ["ss-local"]),
    ProgramSignature("shadowsocks", ["shadowsocks", "bind_to_addr"]),
    ProgramSignature("rsync daemon", ["rsyncd", "inbound sockets"], .tcp),
    ProgramSignature("rsync", ["rsync"]),
    ProgramSignature("git", ["fatal: unable to connect", "fatal: unable to access"], .tcp),
    ProgramSignature("snmpd (Net-SNMP)", ["snmpd", "snmpconf", "error opening specified endpoint"], datagram: true),
    ProgramSignature("atftpd", ["atftpd"], .udp),
    ProgramSignature("inetd (GNU inetutils)", ["inetd"], datagram: true),
    ProgramSignature("Kamailio", ["kamailio", "<core>"], datagram: true),
    ProgramSignature("BIRD", ["bird", "cannot open listening socket"], .tcp),
    ProgramSignature("MPD", ["mpd", "music player daemon"], .tcp),
    ProgramSignature("beanstalkd", ["beanstalkd"], .tcp),
    ProgramSignature("NTttcp", ["ntttcp", "setupnet"]),
    ProgramSignature("OpenSSL", ["bio_bind", "openssl"], .tcp),
    ProgramSignature("git daemon", ["unable to allocate any listen sockets"], .tcp),
    ProgramSignature("vsftpd", ["vsftpd"], .tcp),
    ProgramSignature("ProFTPD", ["proftpd"], .tcp),
    ProgramSignature("Samba", ["smbd", "nmbd", "samba"], datagram: true),
    ProgramSignature("chrony", ["chronyd"], .udp),
    ProgramSignature("Syslog", ["rsyslogd", "syslog-ng"], datagram: true),
  ]

  /// Languages and runtimes last: any of the programs above may print through them.
  static let runtimes: [ProgramSignature] = [
    ProgramSignature(
      "Node.js",
      [
        "listen eaddrinuse", "listen eacces", "listen eaddrnotavail", "bind eaddrinuse ", "bind eacces ",
        "bind eaddrnotavail ", "node:events", "node:net", "node:dgram",
        "node:internal", "node.js v",
      ]),
    ProgramSignature("Go", ["listen tcp", "listen udp", "goroutine ", ".go:"]),
    ProgramSignature("Java", ["java.net.", "java.base/", "exception in thread"]),
    ProgramSignature("Ruby", ["errno::eaddrinuse", "errno::eacces", "errno::eaddrnotavail", "bind(2) for", ".rb:"]),
    ProgramSignature(
      "Rust", ["kind: addrinuse", "kind: addrnotavailable", "kind: permissiondenied", "os error", "panicked at"]),
    ProgramSignature(
      "Python",
      ["oserror", "permissionerror", "[errno", "[winerror", "traceback (most recent call last)", "socket.error"]),
  ]

  /// The first signature with a marker in `lower` (the text, lowercased). A marker of letters
  /// alone must stand as a word (`expo` is not in `export`, `vite` not in `invite`).
  static func signature(in lower: String) -> ProgramSignature? {
    signatures.first { signature in
      signature.markers.contains { marker in
        if marker.hasPrefix("^") { return startsLine(lower, String(marker.dropFirst())) }
        if marker.allSatisfy(\.isLetter) { return lower.hasWord(marker) }
        return lower.has(marker)
      }
    }
  }

  /// True when `word` stands in `text` with no letter right before or after it.
  static func containsWord(_ text: String, _ word: String) -> Bool { text.hasWord(word) }

  /// True when some line of `text` starts with `prefix` (after leading spaces).
  static func startsLine(_ text: String, _ prefix: String) -> Bool {
    guard text.has(prefix) else { return false }
    var rest = text[...]
    while let range = rest.firstRange(of: prefix) {
      var start = range.lowerBound
      while start > text.startIndex, text[text.index(before: start)] == " " { start = text.index(before: start) }
      if start == text.startIndex || text[text.index(before: start)] == "\n" { return true }
      rest = text[range.upperBound...]
    }
    return false
  }
}

extension String {
  /// `contains` over the UTF-8 bytes: the same answer for these markers, without the cost of
  /// comparing Characters, which made a 50 KiB log take a second.
  func has(_ needle: String) -> Bool { byteMatch(of: needle) { _, _ in true } }

  /// True when `needle` stands with no ASCII letter right before or after it.
  func hasWord(_ needle: String) -> Bool {
    byteMatch(of: needle) { before, after in !Self.isLetter(before) && !Self.isLetter(after) }
  }

  /// True when `needle` stands with neither a letter nor a digit right before or after it.
  func hasNumber(_ needle: String) -> Bool {
    byteMatch(of: needle) { before, after in
      !Self.isLetter(before) && !Self.isDigit(before) && !Self.isLetter(after) && !Self.isDigit(after)
    }
  }

  private static func isLetter(_ byte: UInt8?) -> Bool {
    guard let byte else { return false }
    return (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
  }

  private static func isDigit(_ byte: UInt8?) -> Bool {
    guard let byte else { return false }
    return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
  }

  /// Whether some occurrence of `needle` satisfies `accept`, given the bytes around it.
  func byteMatch(of needle: String, _ accept: (UInt8?, UInt8?) -> Bool) -> Bool {
    var text = self
    var pattern = needle
    return text.withUTF8 { hay in
      pattern.withUTF8 { needle in
        guard let first = needle.first, needle.count <= hay.count else { return false }
        var index = 0
        let last = hay.count - needle.count
        while index <= last {
          if hay[index] == first {
            var matched = 1
            while matched < needle.count, hay[index + matched] == needle[matched] { matched += 1 }
            if matched == needle.count {
              let end = index + needle.count
              if accept(index > 0 ? hay[index - 1] : nil, end < hay.count ? hay[end] : nil) { return true }
            }
          }
          index += 1
        }
        return false
      }
    }
  }
}
