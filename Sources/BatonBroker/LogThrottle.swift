/// Bounds what peers can make the broker log: lines are cut at `maxLineBytes`, and at
/// most `maxPerSecond` info/warning lines go out each second; the rest are counted and
/// reported in one line when the second is over. Errors always go out (cut too).
///
/// Why: 100,000 hostile messages once produced 37,478 warning lines (5.9 MB), and one
/// READY with 200,000 types a 1.8 MB line; a log a peer can fill is a disk it can fill
/// and an audit trail it can bury.
struct LogThrottle {
    var maxPerSecond = 100
    var maxLineBytes = 1000
    private var windowStart: ContinuousClock.Instant?
    private var inWindow = 0
    private var suppressed = 0

    enum Verdict: Equatable {
        /// Log this text (cut if it was long); `before` says how many lines were
        /// suppressed in the window that just ended (0: none).
        case log(String, suppressedBefore: Int)
        case suppress
    }

    /// What to do with one line of `level` at `now`.
    mutating func admit(_ text: String, isError: Bool, now: ContinuousClock.Instant) -> Verdict {
        var ended = 0
        if let start = windowStart, now - start < .seconds(1) {
            // same window
        } else {
            ended = suppressed
            windowStart = now
            inWindow = 0
            suppressed = 0
        }
        if !isError && inWindow >= maxPerSecond {
            suppressed += 1
            return .suppress
        }
        inWindow += 1
        return .log(cut(text), suppressedBefore: ended)
    }

    private func cut(_ text: String) -> String {
        let bytes = text.utf8.count
        guard bytes > maxLineBytes else { return text }
        let kept = String(decoding: text.utf8.prefix(maxLineBytes), as: UTF8.self)
        return kept + "… (\(bytes - maxLineBytes) more bytes cut)"
    }
}
