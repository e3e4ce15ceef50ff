/// portctl's version, kept in this one place: `portctl --version`, `portctl-mcp --version` and the
/// MCP server's `serverInfo` print it, and the Makefile, the Debian package, the CHANGELOG and the
/// files under packaging/ are checked against it (Tests/portctlTests/ReleaseTests.swift).
public enum PortctlVersion {
  /// The version, as `MAJOR.MINOR.PATCH`.
  public static let current = "0.1.0"
}
