import Testing

@testable import PortKit

@Suite struct TerminalTextTests {
  @Test func plainTextIsUnchanged() {
    for text in ["", "nginx: master process /usr/sbin/nginx", "node server.js --port=3000", "~!@#$%^&*()_+{}|:\"<>?"] {
      #expect(TerminalText.escape(text) == text)
    }
    // Printable Unicode stays as it is, U+FFFD (an invalid sequence already decoded) too.
    #expect(TerminalText.escape("café 東京 └ 🚀 \u{FFFD}") == "café 東京 └ 🚀 \u{FFFD}")
    #expect(TerminalText.escape("e\u{301}") == "e\u{301}")
  }

  @Test func backslashIsDoubledSoThatEscapesAreUnambiguous() {
    #expect(TerminalText.escape(#"C:\dir"#) == #"C:\\dir"#)
    #expect(TerminalText.escape(#"\n"#) == #"\\n"#)
    #expect(TerminalText.escape("\n") == #"\n"#)
  }

  @Test func c0ControlsAndDelete() {
    #expect(TerminalText.escape("a\nb\rc\td") == #"a\nb\rc\td"#)
    #expect(TerminalText.escape("\u{1B}]0;pwned\u{07}") == #"\x1b]0;pwned\x07"#)
    #expect(TerminalText.escape("\u{1B}[2J\u{1B}[31mred") == #"\x1b[2J\x1b[31mred"#)
    #expect(TerminalText.escape("\u{0}\u{8}\u{B}\u{C}\u{1F}\u{7F}") == #"\x00\x08\x0b\x0c\x1f\x7f"#)
    for value in UInt32(0)..<0x20 {
      let escaped = TerminalText.escape(String(Character(Unicode.Scalar(value)!)))
      #expect(escaped.hasPrefix("\\") && escaped.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F })
    }
  }

  @Test func c1Controls() {
    #expect(TerminalText.escape("\u{80}\u{85}\u{9B}31m\u{9F}") == #"\u0080\u0085\u009b31m\u009f"#)
    #expect(TerminalText.escape("\u{A0}") == "\u{A0}")
  }

  @Test func formatCharactersBidiAndZeroWidth() {
    #expect(TerminalText.escape("txt\u{202E}exe.sh") == #"txt\u202eexe.sh"#)
    #expect(TerminalText.escape("\u{202A}\u{202B}\u{202C}\u{202D}") == #"\u202a\u202b\u202c\u202d"#)
    #expect(TerminalText.escape("\u{2066}\u{2067}\u{2068}\u{2069}") == #"\u2066\u2067\u2068\u2069"#)
    #expect(TerminalText.escape("\u{200E}\u{200F}\u{061C}") == #"\u200e\u200f\u061c"#)
    #expect(
      TerminalText.escape("a\u{200B}b\u{200C}c\u{200D}d\u{2060}e\u{FEFF}") == #"a\u200bb\u200cc\u200dd\u2060e\ufeff"#)
    #expect(TerminalText.escape("soft\u{AD}hyphen") == #"soft\u00adhyphen"#)
    // Above U+FFFF: a tag character.
    #expect(TerminalText.escape("\u{E0001}\u{E0041}") == #"\U000e0001\U000e0041"#)
  }

  @Test func lineAndParagraphSeparators() {
    #expect(TerminalText.escape("a\u{2028}b\u{2029}c") == #"a\u2028b\u2029c"#)
  }

  @Test func everyScalarThatNeedsEscapingIsGone() {
    var text = ""
    for value in UInt32(0)...0x3000 {
      if let scalar = Unicode.Scalar(value) { text.unicodeScalars.append(scalar) }
    }
    let escaped = TerminalText.escape(text)
    for scalar in escaped.unicodeScalars {
      let category = scalar.properties.generalCategory
      #expect(![.control, .format, .lineSeparator, .paragraphSeparator].contains(category), "U+\(scalar.value)")
    }
    #expect(!escaped.contains("\n"))
  }

  @Test func invalidUTF8BytesAreWrittenAsHex() {
    #expect(TerminalText.escape(utf8: Array("bad".utf8) + [0xFF] + Array("byte".utf8)) == #"bad\xffbyte"#)
    // A truncated sequence, a lone continuation byte, an overlong form, a surrogate.
    #expect(TerminalText.escape(utf8: [0xE2, 0x82]) == #"\xe2\x82"#)
    #expect(TerminalText.escape(utf8: [0x80, 0x41]) == #"\x80A"#)
    #expect(TerminalText.escape(utf8: [0xC0, 0xAF]) == #"\xc0\xaf"#)
    #expect(TerminalText.escape(utf8: [0xED, 0xA0, 0x80]) == #"\xed\xa0\x80"#)
    #expect(TerminalText.escape(utf8: [0xF4, 0x90, 0x80, 0x80]) == #"\xf4\x90\x80\x80"#)
    // Valid UTF-8 goes through the same rules as a String.
    #expect(TerminalText.escape(utf8: Array("é\u{202E}\n\\".utf8)) == #"é\u202e\n\\"#)
    #expect(TerminalText.escape(utf8: Array("🚀".utf8)) == "🚀")
    #expect(TerminalText.escape(utf8: [UInt8]()) == "")
  }
}

@Suite struct ShellQuotingTests {
  @Test func plainNamesStayReadable() {
    for name in ["api", "apps:web", "nginx.service", "/etc/supervisord.conf", "%4", "a-b_c.d", "user@host", "k=v,w"] {
      #expect(ShellQuoting.quote(name) == name)
    }
  }

  @Test func everythingElseIsOneSingleQuotedWord() {
    #expect(ShellQuoting.quote("") == "''")
    #expect(ShellQuoting.quote("api && rm -rf ~ #") == "'api && rm -rf ~ #'")
    #expect(ShellQuoting.quote("two words") == "'two words'")
    #expect(ShellQuoting.quote("$(id)") == "'$(id)'")
    #expect(ShellQuoting.quote("`id`") == "'`id`'")
    #expect(ShellQuoting.quote("a\nb") == "'a\nb'")
    #expect(ShellQuoting.quote("a;b|c>d<e*f?g[h]") == "'a;b|c>d<e*f?g[h]'")
    #expect(ShellQuoting.quote(#"back\slash"#) == #"'back\slash'"#)
    #expect(ShellQuoting.quote("=ls") == "'=ls'")
    #expect(ShellQuoting.quote("~root") == "'~root'")
  }

  @Test func singleQuotesAreClosedAndReopened() {
    #expect(ShellQuoting.quote("it's") == #"'it'"'"'s'"#)
    #expect(ShellQuoting.quote("'") == #"''"'"''"#)
    #expect(ShellQuoting.quote("a'$(id)'b") == #"'a'"'"'$(id)'"'"'b'"#)
    #expect(!ShellQuoting.quote("x' ; y").contains("\\"))
  }
}

@Suite struct DurationsTests {
  @Test func compactDurationsInAtMostTwoUnits() {
    #expect(Durations.compact(45) == "45s")
    #expect(Durations.compact(725) == "12m05s")
    #expect(Durations.compact(3 * 3600 + 4 * 60) == "3h04m")
    #expect(Durations.compact(2 * 86400 + 3 * 3600) == "2d03h")
    // Odd input never traps.
    for odd in [-1, .nan, .infinity, 1e300] { #expect(Durations.compact(odd) == "-") }
  }
}
