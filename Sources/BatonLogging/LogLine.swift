import BatonWire
import Logging

/// One log line as bytes, newline included. Pure (the time is an argument), so tests
/// compare exact bytes; `LogLineHandler` adds the clock and the write.
public enum LogLine {
    /// The keys every JSON line has, in the order they are written.
    public static let fixedKeys = ["time", "level", "logger", "message"]

    public static func render(_ format: LogFormat, ms: Int64, level: Logger.Level, label: String, message: String,
                              metadata: Logger.Metadata) -> [UInt8] {
        switch format {
        case .text: text(ms: ms, level: level, label: label, message: message)
        case .json: json(ms: ms, level: level, label: label, message: message, metadata: metadata)
        }
    }

    /// `2026-12-05T07:57:56.123Z info baton.broker: MESSAGE`. No metadata: every field
    /// Baton logs restates something the message already says for people (the workflow
    /// id, the worker's name, the job), and the lines stay exactly what they were before
    /// fields existed, for whoever greps them. Machines get the fields from `json`.
    static func text(ms: Int64, level: Logger.Level, label: String, message: String) -> [UInt8] {
        Array("\(Timestamp.format(ms: ms)) \(level) \(label): \(message)\n".utf8)
    }

    /// `{"time":"…","level":"info","logger":"baton.broker","message":"…","workflow_id":"…"}`:
    /// the fixed keys first (so `journalctl -o cat` lines read like the text ones), then
    /// each metadata key in sorted order as a field of its own, its value as a string
    /// (flat: arrays and dictionaries in swift-log's own rendering). A metadata key that
    /// is one of the fixed keys is written as `metadata_KEY` rather than shadowing it or
    /// making a duplicate key. Escaping is JSONWriter's, the one the wire uses.
    static func json(ms: Int64, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + message.utf8.count)
        out.append(UInt8(ascii: "{"))
        field("time", Timestamp.format(ms: ms), into: &out, first: true)
        field("level", "\(level)", into: &out)
        field("logger", label, into: &out)
        field("message", message, into: &out)
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            field(fixedKeys.contains(key) ? "metadata_\(key)" : key, value.description, into: &out)
        }
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    private static func field(_ key: String, _ value: String, into out: inout [UInt8], first: Bool = false) {
        if !first { out.append(UInt8(ascii: ",")) }
        JSONWriter.writeString(key, into: &out)
        out.append(UInt8(ascii: ":"))
        JSONWriter.writeString(value, into: &out)
    }
}
