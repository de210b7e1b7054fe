import BatonWire
import Foundation

/// How human output looks: one timestamp style (RFC 3339 UTC with milliseconds, the
/// broker's own, so a line from the CLI greps like a line from the broker or the
/// store), colour only on a terminal and never with NO_COLOR (https://no-color.org),
/// long values cut with an ellipsis.
enum Style {
    /// Decided once: colour needs stdout to be a terminal and NO_COLOR unset (any value,
    /// even empty, turns it off).
    static let colour: Bool = isatty(STDOUT_FILENO) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil

    static func time(_ ms: Int64) -> String { Timestamp.format(ms: ms) }

    /// "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min".
    static func duration(ms: Int64) -> String {
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 { return String(format: "%.1f s", Double(ms) / 1000) }
        if ms < 3_600_000 { return String(format: "%d min %02d s", ms / 60_000, ms / 1000 % 60) }
        return String(format: "%d h %02d min", ms / 3_600_000, ms / 60_000 % 60)
    }

    /// At most `max` characters, the last one an ellipsis when cut; newlines shown as ⏎
    /// so one value stays on one line.
    static func cut(_ text: String, _ max: Int) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: "⏎")
        return flat.count <= max ? flat : String(flat.prefix(max - 1)) + "…"
    }

    /// A state word, coloured on a terminal: green done, red failed, yellow held.
    static func state(_ word: String) -> String {
        guard colour else { return word }
        let code: String
        switch word {
        case "SUCCEEDED": code = "32"
        case "FAILED", "EXPIRED": code = "31"
        case "CANCELLED", "STOPPED": code = "33"
        case "RUNNING": code = "36"
        default: return word
        }
        return "\u{1B}[\(code)m\(word)\u{1B}[0m"
    }

    /// "warning:" in yellow on a terminal.
    static func warning(_ text: String) -> String {
        colour ? "\u{1B}[33mwarning:\u{1B}[0m \(text)" : "warning: \(text)"
    }
}

/// The label of a job for people: its place (`block.job`, 0-based like the spec) and
/// its name from the spec, or its type when it has none: `1.2 sleep-1`.
func jobLabel(block: Int, job: Int, name: String?, type: String) -> String {
    "\(block).\(job) \(Style.cut(name ?? type, 60))"
}

/// (block, job) of a job id `WORKFLOW.BLOCK.JOB`.
func jobPlace(_ jobId: String) -> (block: Int, job: Int)? {
    let parts = jobId.split(separator: ".")
    guard parts.count >= 3, let b = Int(parts[parts.count - 2]), let j = Int(parts[parts.count - 1]) else { return nil }
    return (b, j)
}
