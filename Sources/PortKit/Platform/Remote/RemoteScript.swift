/// The POSIX shell scripts portctl sends to another machine (as one `ssh` command each).
/// They use only what every Linux and macOS/BSD system has (`sh`, `od`, `awk`, `ls`, `ps`,
/// `kill`; `lsof` where there is no `/proc`), install nothing and write nothing.
///
/// Output is one marker a line (`@name value`); what another process chose (command lines,
/// paths, the command name in `stat`) is sent as `od` hex, so it can never forge a marker.
enum RemoteScript {
  /// How the remote is read.
  enum Mode: String, Sendable {
    /// `/proc` where it can be read, lsof otherwise.
    case automatic = "auto"
    /// `/proc` only.
    case procfs
    /// lsof and ps only.
    case lsof
  }

  /// The most processes whose details one snapshot sends.
  static let processLimit = 4096

  /// The most ports the script narrows the details to; a wider query reads every holder's.
  static let portFilterLimit = 1024

  /// The ports `query` asks about, as the socket tables print them (`1F90`), for the script to
  /// read only their holders' details; `nil` for every holder (a listing, a wide range).
  static func portFilter(_ query: SocketQuery) -> [String]? {
    guard let specs = query.specs else { return nil }
    var ports = Set<UInt16>()
    for spec in specs {
      guard spec.ports.count + ports.count <= portFilterLimit else { return nil }
      ports.formUnion(spec.ports)
    }
    return ports.sorted().map { port in
      let hex = String(port, radix: 16, uppercase: true)
      return String(repeating: "0", count: 4 - hex.count) + hex
    }
  }

  /// The snapshot script: host facts, then either the socket tables, the socket links of
  /// every process and the details of their holders and their ancestors (`@kind procfs`), or
  /// one lsof and one ps run (`@kind lsof`), or `@kind none`. With `ports` (hex, as
  /// ``portFilter(_:)`` gives them), only the holders of sockets on those ports are detailed.
  static func snapshot(mode: Mode, ports: [String]? = nil) -> String {
    let script = #"""
      exec 2>/dev/null
      LC_ALL=C
      export LC_ALL
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
      export PATH
      mode=@MODE@
      echo "@portctl-remote 1"
      echo "@os $(uname -s)"
      echo "@euid $(id -u)"
      echo "@now $(date +%s)"
      echo "@zone $(date +%z)"
      echo "@self $$"
      rdstat() { l=; { while IFS= read -r x || [ -n "$x" ]; do l="$l $x"; done < "/proc/$1/stat"; } 2>/dev/null; }
      parent() { if [ -r "/proc/$1/stat" ]; then rdstat "$1"; r=${l##*) }; set -- $r; echo "$2"; else ps -o ppid= -p "$1"; fi; }
      p=$$
      n=0
      while [ "$n" -lt 64 ]; do
        p=$(parent "$p")
        p=$(echo $p)
        case "$p" in ''|*[!0-9]*) break ;; esac
        [ "$p" -gt 0 ] || break
        echo "@ancestor $p"
        [ "$p" -gt 1 ] || break
        n=$((n+1))
      done
      awk -F: 'NR <= 5000 && $3 ~ /^[0-9]+$/ { print "@user " $3 " " $1 }' /etc/passwd
      if [ "$mode" != lsof ] && [ -r /proc/net/tcp ]; then
        echo "@kind procfs"
        echo "@ticks $(getconf CLK_TCK)"
        awk '$1 == "btime" { print "@btime " $2 }' /proc/stat
        s=$(for t in tcp tcp6 udp udp6; do echo "@table $t"; cat "/proc/net/$t"; done; echo "@fds"; ls -lq /proc/[0-9]*/fd | grep -E '^/proc/[0-9]+/fd:$| -> socket:\[[0-9]+\]$')
        printf '%s\n' "$s"
        pids=$(printf '%s\n' "$s" | awk -v P="@PORTS@" '/^@table/ { m = 1; next } /^@fds/ { m = 2; next } m == 1 && $10 ~ /^[0-9]+$/ && $10 != "0" { if (P == "" || index(P, " " substr($2, index($2, ":") + 1) " ") > 0) i[$10] = 1; next } m == 2 && /^\/proc\/[0-9]+\/fd:$/ { split($0, a, "/"); p = a[3]; next } m == 2 { n = $NF; gsub(/[^0-9]/, "", n); if ((n in i) && p != "" && !(p in w) && c < @LIMIT@) { w[p] = 1; c++; print p } }')
        echo "@procs"
        seen=" "
        for p in $pids; do
          q=$p
          n=0
          while [ -n "$q" ] && [ "$n" -lt 64 ]; do
            case "$seen" in *" $q "*) break ;; esac
            seen="$seen$q "
            echo "@pid $q"
            while read -r k a b c; do if [ "$k" = Uid: ]; then echo "@uid $b"; break; fi; done < "/proc/$q/status"
            echo "@stat"
            od -An -v -tx1 "/proc/$q/stat"
            echo "@cmdline"
            od -An -v -tx1 "/proc/$q/cmdline"
            echo "@cgroup"
            od -An -v -tx1 "/proc/$q/cgroup"
            echo "@cwd"
            readlink "/proc/$q/cwd" | od -An -v -tx1
            echo "@exe"
            readlink "/proc/$q/exe" | od -An -v -tx1
            echo "@end"
            q=$(parent "$q")
            case "$q" in ''|*[!0-9]*) break ;; esac
            [ "$q" -gt 1 ] || break
            n=$((n+1))
          done
        done
        echo "@done"
      elif command -v lsof >/dev/null; then
        echo "@kind lsof"
        echo "@lsof"
        lsof -nP -w -F pcuLRftPnTdi -iTCP -iUDP
        echo "@lsof-status $?"
        echo "@ps"
        ps -A -o pid=,ppid=,uid=,lstart=,command=
        echo "@done"
      else
        echo "@kind none"
      fi
      """#
    return
      script
      .replacing("@MODE@", with: mode.rawValue)
      .replacing("@LIMIT@", with: "\(processLimit)")
      .replacing("@PORTS@", with: ports.map { " " + $0.joined(separator: " ") + " " } ?? "")
  }

  /// The shell function `st PID EXPECTED` (the lines of `stat` are joined first: a command
  /// name may hold a newline): prints `same` while PID is alive (not a zombie)
  /// and started at EXPECTED (procfs: `stat` field 22, the start in clock ticks after boot;
  /// lsof remotes: `ps -o lstart=` with single spaces), `replaced` when PID names another
  /// process, `gone` otherwise.
  static func startCheck(kind: RemoteKind) -> String {
    switch kind {
    case .procfs:
      #"st() { w=$2; l=; { while IFS= read -r x || [ -n "$x" ]; do l="$l $x"; done < "/proc/$1/stat"; } 2>/dev/null; case "$l" in *")"*) ;; *) echo gone; return ;; esac; r=${l##*) }; set -- $r; if [ "$1" = Z ] || [ "$1" = X ]; then echo gone; elif [ "${20}" = "$w" ]; then echo same; else echo replaced; fi; }"#
    case .lsof:
      #"st() { w=$2; s=$(ps -o stat=,lstart= -p "$1" 2>/dev/null); set -- $s; if [ $# -lt 6 ]; then echo gone; return; fi; case "$1" in Z*) echo gone; return ;; esac; shift; if [ "$*" = "$w" ]; then echo same; else echo replaced; fi; }"#
    }
  }

  static let prelude =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH; export PATH; LC_ALL=C; export LC_ALL"

  /// Prints `same`, `replaced` or `gone` for `pid`.
  static func check(pid: PID, expected: String, kind: RemoteKind) -> String {
    "\(prelude)\n\(startCheck(kind: kind))\nst \(pid) \(ShellQuoting.quote(expected))\n"
  }

  /// Sends `signal` to `pid` only while it is the process that started at `expected`, right
  /// before: prints `sent`, `denied`, `replaced` or `gone`.
  static func signal(_ signal: Signal, pid: PID, expected: String, kind: RemoteKind) -> String {
    let want = ShellQuoting.quote(expected)
    return """
      \(prelude)
      \(startCheck(kind: kind))
      r=$(st \(pid) \(want))
      if [ "$r" != same ]; then echo "$r"; exit 0; fi
      if kill -s \(ShellQuoting.quote(signal.name)) \(pid) 2>/dev/null; then echo sent; exit 0; fi
      r=$(st \(pid) \(want))
      if [ "$r" = same ]; then echo denied; else echo gone; fi

      """
  }

  /// Watches `targets` every 0.1 s for at most `rounds` rounds: prints `@exit PID ROUND` for
  /// each one seen gone (or replaced), and stops when all are.
  static func wait(_ targets: [(pid: PID, expected: String)], rounds: Int, kind: RemoteKind) -> String {
    var lines = [prelude, startCheck(kind: kind), "i=0"]
    for index in targets.indices { lines.append("d\(index)=0") }
    lines.append("while [ \"$i\" -le \(rounds) ]; do")
    lines.append("  a=1")
    for (index, target) in targets.enumerated() {
      lines.append(
        "  if [ \"$d\(index)\" = 0 ]; then if [ \"$(st \(target.pid) \(ShellQuoting.quote(target.expected)))\" = same ]; then a=0; else d\(index)=1; echo \"@exit \(target.pid) $i\"; fi; fi"
      )
    }
    lines.append("  [ \"$a\" = 1 ] && break")
    lines.append("  [ \"$i\" -lt \(rounds) ] && sleep 0.1")
    lines.append("  i=$((i+1))")
    lines.append("done")
    return lines.joined(separator: "\n") + "\n"
  }
}

/// What the remote was read with.
enum RemoteKind: String, Sendable {
  case procfs
  case lsof
}
