extension ServerRecognition {
  /// Web servers and application servers: nginx, Apache httpd, gunicorn, uvicorn, hypercorn,
  /// the Werkzeug and Django reloaders, node cluster primaries.
  static let webDetectors: [Detector] = []
}
