# Homebrew formula: builds portctl from the tagged source with Swift.
# The version here is checked against Sources/PortKit/Version.swift by
# Tests/portctlTests/ReleaseTests.swift; sha256 is that of the release's source archive,
# printed in the release's SHA256SUMS (portctl-VERSION-source.tar.gz).
class Portctl < Formula
  desc "Tell who holds a network port, why, and free it safely"
  homepage "https://github.com/portctl/portctl"
  url "https://github.com/portctl/portctl/releases/download/v0.1.0/portctl-0.1.0-source.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license "MIT"

  # Swift 6.2 (tools version 6.2) with Xcode 26.1 or later.
  depends_on xcode: ["26.1", :build]
  depends_on macos: :ventura

  def install
    system "swift", "build", "--disable-sandbox", "-c", "release", "--product", "portctl"
    system "swift", "build", "--disable-sandbox", "-c", "release", "--product", "portctl-mcp"
    bin.install ".build/release/portctl", ".build/release/portctl-mcp"
    system "swift", "package", "--disable-sandbox", "plugin", "generate-manual",
           "--configuration", "release", "--authors", "the portctl authors"
    man1.install ".build/plugins/GenerateManual/outputs/portctl/portctl.1"
    generate_completions_from_executable(bin/"portctl", "--generate-completion-script")
  end

  test do
    assert_equal version.to_s, shell_output("#{bin}/portctl --version").strip
    assert_match(/\A\d+\n\z/, shell_output("#{bin}/portctl find"))
  end
end
