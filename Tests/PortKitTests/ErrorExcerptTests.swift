import Testing

@testable import PortKit

@Suite struct ErrorExcerptTests {
  func excerpt(_ chunks: [String], tail: Int, hits: Int = 1 << 10) -> ErrorExcerpt {
    var excerpt = ErrorExcerpt(tailLimit: tail, hitLimit: hits)
    for chunk in chunks { excerpt.append(Array(chunk.utf8)) }
    return excerpt
  }

  @Test func smallInputIsKeptWhole() {
    let text = "starting\nError: listen EADDRINUSE: address already in use :::3000\n"
    let kept = excerpt([text], tail: 1 << 10)
    #expect(kept.text == text)
    #expect(!kept.isShortened)
    #expect(kept.bytesRead == text.utf8.count)
  }

  @Test func anEarlyErrorSurvivesMegabytesOfLaterOutput() {
    let noise = String(repeating: "compiled module in 12 ms\n", count: 4000)
    let error = "Error: listen EADDRINUSE: address already in use :::3000\n    at Server.setupListenHandle\n"
    var kept = ErrorExcerpt(tailLimit: 4096, hitLimit: 1024)
    kept.append(Array(noise.utf8))
    kept.append(Array(error.utf8))
    for _ in 0..<10 { kept.append(Array(noise.utf8)) }
    #expect(kept.isShortened)
    #expect(kept.bytesRead == 11 * noise.utf8.count + error.utf8.count)
    let text = kept.text
    #expect(
      text.contains("Error: listen EADDRINUSE: address already in use :::3000\n    at Server.setupListenHandle\n"))
    // Bounded: the kept hits and the tail, nothing more.
    #expect(text.utf8.count <= 4096 + 1024 + 2)
    #expect(text.hasSuffix("compiled module in 12 ms\n"))
  }

  @Test func aWrappedWindowsMessageKeepsTheLinesAfterIt() {
    let message = """
      OSError: [WinError 10013] An attempt was made to access a socket in a way
      forbidden by its access permissions

      """
    let noise = String(repeating: "x\n", count: 5000)
    let kept = excerpt([message, noise], tail: 512)
    #expect(kept.text.hasPrefix(message.dropLast() + "\n"))
  }

  @Test func keptLinesAreWholeAndTheTailStartsAtALine() {
    let lines = (0..<1000).map { "line \($0) of the server's log" }.joined(separator: "\n") + "\n"
    let kept = excerpt([lines], tail: 300)
    let text = kept.text
    #expect(text.hasPrefix("line "))
    #expect(text.hasSuffix("line 999 of the server's log\n"))
  }

  @Test func invalidUTF8AndNulBytesAreReplacedNotFatal() {
    var kept = ErrorExcerpt(tailLimit: 64, hitLimit: 64)
    kept.append([0xFF, 0xFE, 0x00, 0xC0, 0x80] + Array(" EADDRINUSE :::80\n".utf8))
    kept.append([UInt8](repeating: 0xFF, count: 1000))
    #expect(kept.text.contains("EADDRINUSE :::80"))
    #expect(kept.text.contains("\u{FFFD}"))
  }

  @Test func aHugeLineWithoutNewlinesStaysBounded() {
    var kept = ErrorExcerpt(tailLimit: 1 << 10, hitLimit: 1 << 10)
    for _ in 0..<256 { kept.append([UInt8](repeating: UInt8(ascii: "a"), count: 1 << 10)) }
    #expect(kept.text.utf8.count <= 3 << 10)
    #expect(kept.bytesRead == 1 << 18)
  }

  @Test func focusKeepsTheFailureOfAHugeLineAndItsStackTrace() throws {
    let message = "Error: listen EADDRINUSE: address already in use :::3000"
    let trace =
      "\n    at Server.setupListenHandle [as _listen2] (node:net:1817:16)\n    at listenInCluster (node:net:1865:12)\n"
    let text = String(repeating: "x", count: 1 << 20) + message + trace
    let focused = ErrorExcerpt.focus(text)
    #expect(focused.utf8.count < 4 << 10)
    #expect(focused.contains(message))
    #expect(focused.contains("node:net:1817:16"))
    let failure = try #require(BindErrorParser.parse(focused))
    #expect(failure.port == 3000)
    #expect(failure.runtime == BindErrorParser.parse(message + trace)?.runtime)
  }

  @Test func focusLeavesShortTextAloneAndKeepsTheEndOfUnmarkedText() {
    let short = "bind: address already in use"
    #expect(ErrorExcerpt.focus(short) == short)
    let unmarked = String(repeating: "y", count: 100_000) + "the end"
    let focused = ErrorExcerpt.focus(unmarked, limit: 1000)
    #expect(focused.utf8.count == 1000)
    #expect(focused.hasSuffix("the end"))
  }
}
