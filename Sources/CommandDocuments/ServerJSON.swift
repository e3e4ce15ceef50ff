import PortKit

/// A recognised server, as `who`, `why`, `kill` and `free` print it.
package struct ServerJSON {
  package var server: RecognizedServer

  /// Writes the server as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("detail", server.detail)
    writer.field("graceSeconds", server.grace.seconds)
    writer.field("kind", server.kind.rawValue)
    writer.field("master", server.master.pid)
    writer.field("name", server.name)
    writer.field("signalsEveryProcess", server.signalsEveryProcess)
    writer.field("stop", server.stop)
    writer.field("stopSignal", server.stopSignal.description)
    writer.field("workers", server.workers.map(\.pid))
    writer.endObject()
  }
}
