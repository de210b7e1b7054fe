import Foundation
import Logging

/// The log lines of Baton's long-running commands (`baton broker`, `baton worker`,
/// `baton web`) on standard error, in the CLI's one timestamp style (RFC 3339 UTC with
/// milliseconds, BatonWire's `Timestamp`). swift-log's StreamLogHandler writes
/// `2026-12-05T07:57:56+0000` (no milliseconds, a different zone form), which would
/// make the broker's lines and the CLI's and the store's sort and grep differently.
///
/// The JSON format is ours too: no JSON LogHandler package is on this machine's package
/// lists (/work/.library/env/packages), and one struct over BatonWire's `JSONWriter` and
/// `Timestamp` keeps both formats' time and escaping identical to the wire's.
public struct LogLineHandler: LogHandler {
    public let label: String
    public let format: LogFormat
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]

    public init(label: String, format: LogFormat = .text, logLevel: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = logLevel
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let ms = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        writeToStandardError(LogLine.render(format, ms: ms, level: event.level, label: label,
                                            message: "\(event.message)", metadata: all))
    }
}

/// One write(2) per line: whole lines even when several threads log at once (a pipe
/// keeps writes of up to PIPE_BUF together, journald's stream socket and a file each
/// write as it comes). Only an interrupted or short write (a signal mid-line) writes
/// the rest; an error drops the line, since a logger has nowhere to report it.
func writeToStandardError(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let n = write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
