extension ServerRecognition {
  /// Databases and system services: PostgreSQL, MySQL/MariaDB, redis, memcached, sshd,
  /// ssh forwards, Java servers, systemd socket activation.
  static let serviceDetectors: [Detector] = []
}
