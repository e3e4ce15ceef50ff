/// Quoting for values put into suggested shell commands (``ProcessManager/stop``).
///
/// The names in a stop command (a supervisord program, a pm2 app, a tmux pane, a runit
/// service, a config path…) come from what a process says about itself: its environment
/// and its command line. Interpolated raw, `api && rm -rf ~ #` turns `supervisorctl stop
/// NAME` into two commands. ``quote(_:)`` makes each value one inert POSIX shell word.
public enum ShellQuoting {
  /// `value` as one POSIX shell word: unchanged when it is made only of characters no
  /// shell treats specially (letters, digits and `@%+=:,./_-`, not starting with `=`), otherwise wrapped in single
  /// quotes, each `'` inside written as `'"'"'` (close, a double-quoted quote, reopen). The
  /// empty string is `''`.
  ///
  /// `api` stays `api`; `api && rm -rf ~ #` becomes `'api && rm -rf ~ #'`; `it's` becomes
  /// `'it'"'"'s'`. Inside single quotes nothing is special to the shell: `$(…)`, backticks,
  /// `\`, `!`, newlines are all literal. The result never has a backslash outside single
  /// quotes, so ``TerminalText/escape(_:)`` (which doubles backslashes and writes controls
  /// as `\n`, `\x1b`…) can never turn a shown command into one that runs something else
  /// when it is copied from the terminal.
  public static func quote(_ value: String) -> String {
    // A leading `=` is special to zsh (`=ls` expands to the path of ls).
    if !value.isEmpty, value.utf8.first != UInt8(ascii: "="), value.utf8.allSatisfy(isSafe) { return value }
    var result = "'"
    for character in value.unicodeScalars {
      if character == "'" {
        result += "'\"'\"'"
      } else {
        result.unicodeScalars.append(character)
      }
    }
    return result + "'"
  }

  private static func isSafe(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"):
      return true
    case UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "+"), UInt8(ascii: "="), UInt8(ascii: ":"),
      UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: "_"), UInt8(ascii: "-"):
      return true
    default:
      return false
    }
  }
}
