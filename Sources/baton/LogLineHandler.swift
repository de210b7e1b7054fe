import BatonWire
import Foundation
import Logging

/// The broker's and worker's log lines on standard error, in the CLI's one timestamp
/// style: `2026-12-05T07:57:56.123Z info baton.broker: workflow ... submitted ...`.
/// swift-log's StreamLogHandler writes `2026-12-05T07:57:56+0000` (no milliseconds, a
/// different zone form), which would make the broker's lines and the CLI's and the
/// store's sort and grep differently. Metadata, when any, follows as `key=value`.
struct LogLineHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let ms = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var line = "\(Timestamp.format(ms: ms)) \(event.level) \(label): \(event.message)"
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        if !all.isEmpty { line += " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
        // One write(2) per line: whole lines even when several threads log at once.
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
