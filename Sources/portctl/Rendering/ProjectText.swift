import PortKit

/// How a holder's project reads in text: escaped, since directory and branch names are
/// whatever someone chose.
enum ProjectText {
  /// The widest PROJECT cell `list` prints; longer ones end in `…`.
  static let cellWidth = 28

  /// `list`'s PROJECT cell: `web (feature/x)`, `api (@0123456)`, `site`.
  static func cell(_ project: Project) -> String {
    var text = project.name
    if let branch = project.branch {
      text += " (\(branch))"
    } else if let commit = project.detachedCommit {
      text += " (@\(commit))"
    }
    let escaped = TerminalText.escape(text)
    let scalars = escaped.unicodeScalars
    guard scalars.count > cellWidth else { return escaped }
    var cut = String.UnicodeScalarView()
    cut.append(contentsOf: scalars.prefix(cellWidth - 1))
    return String(cut) + "…"
  }

  /// One line for `who`'s notes and `why`: `project web on branch feature/x, Express (package.json, .git in /src/web)`.
  static func summary(_ project: Project) -> String {
    var text = "project \(project.name)"
    if let branch = project.branch {
      text += " on branch \(branch)"
    } else if let commit = project.detachedCommit {
      text += " at detached commit \(commit)"
    }
    if let framework = project.framework { text += ", \(framework)" }
    text += " (\(project.markers.joined(separator: ", ")) in \(project.root))"
    return TerminalText.escape(text)
  }
}
