/// How long finished workflows are kept: `30d`, `12h`, `90m`, `45s`, or `0` (keep every
/// workflow forever). Written the same way in the config file (`retention:`) and in
/// `baton broker --retention`.
public enum RetentionPeriod {
    private static let unitMs: [(String, Int64)] = [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]

    /// The longest period written: ten years. Longer is almost surely a typo (and `0`
    /// says "forever").
    public static let maxMs: Int64 = 3650 * 86_400_000

    /// Milliseconds (0: keep forever), or the reason the text is not a period.
    public static func parse(_ text: String) -> Result<Int64, RetentionError> {
        if text == "0" { return .success(0) }
        guard let (suffix, ms) = unitMs.first(where: { text.hasSuffix($0.0) }),
              let count = Int64(text.dropLast(suffix.count)), count >= 1, count <= maxMs / ms
        else { return .failure(RetentionError(text: text)) }
        return .success(count * ms)
    }

    /// The period as a person writes it (`30d`, `36h`), for logs.
    public static func text(ms: Int64) -> String {
        if ms == 0 { return "forever" }
        for (unit, size) in unitMs where ms % size == 0 { return "\(ms / size)\(unit)" }
        return "\(ms)ms"
    }
}

/// A retention period that does not read as one.
public struct RetentionError: Error, Equatable, Sendable, CustomStringConvertible {
    public var text: String
    public var description: String {
        "\"\(text)\" is not a retention period: expected N followed by d, h, m or s (e.g. 30d, 12h), at most ten years, or 0 to keep everything"
    }
}
