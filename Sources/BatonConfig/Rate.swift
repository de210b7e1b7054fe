/// A rate `N/unit`: `tokens` per `periodMs`. Units: `s`, `sec`, `min`, `h`, `hour`, with
/// an optional count before the unit (`1/30min`: one per thirty minutes).
public struct Rate: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var tokens: Int
    public var periodMs: Int64

    public init(tokens: Int, periodMs: Int64) {
        self.tokens = tokens
        self.periodMs = periodMs
    }

    /// The longest period written: one week. Longer ones are almost surely typos, and the
    /// bound keeps token arithmetic far from overflow.
    public static let maxPeriodMs: Int64 = 7 * 86_400_000

    private static let unitMs: [(String, Int64)] = [("sec", 1000), ("s", 1000), ("min", 60_000), ("hour", 3_600_000), ("h", 3_600_000)]

    /// Parses `N/unit`; the error message says what is wrong, without the field path.
    public static func parse(_ text: String) -> Result<Rate, RateError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .failure(RateError(text)) }
        let countText = parts[0].trimmingSpaces
        guard let tokens = Int(countText), tokens >= 1, tokens <= 1_000_000 else { return .failure(RateError(text)) }
        var per = parts[1].trimmingSpaces
        let digits = per.prefix(while: { $0.isASCII && $0.isNumber })
        var multiple: Int64 = 1
        if !digits.isEmpty {
            guard let m = Int64(digits), m >= 1, m <= 1_000_000 else { return .failure(RateError(text)) }
            multiple = m
            per = String(per.dropFirst(digits.count))
        }
        guard let unit = unitMs.first(where: { $0.0 == per })?.1 else { return .failure(RateError(text)) }
        let period = multiple * unit
        guard period <= maxPeriodMs else {
            return .failure(RateError(text, reason: "period longer than one week"))
        }
        return .success(Rate(tokens: tokens, periodMs: period))
    }

    public var description: String { "\(tokens)/\(periodMs)ms" }

    /// The rate as a person writes it (`10/min`, `1/30min`), for messages.
    public var text: String {
        let (n, unit): (Int64, String) = periodMs % 3_600_000 == 0 ? (periodMs / 3_600_000, "h")
            : periodMs % 60_000 == 0 ? (periodMs / 60_000, "min") : periodMs % 1000 == 0 ? (periodMs / 1000, "s") : (periodMs, "ms")
        return "\(tokens)/\(n == 1 ? "" : String(n))\(unit)"
    }
}

/// A rate that does not read as `N/unit`.
public struct RateError: Error, Equatable, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String

    init(_ text: String, reason: String = "expected N/unit with unit s, sec, min, h or hour, e.g. 10/min or 1/30min") {
        self.text = text
        self.reason = reason
    }

    public var description: String { "\"\(text)\" is not a rate: \(reason)" }
}

extension Rate: Decodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        switch Rate.parse(text) {
        case .success(let r): self = r
        case .failure(let e): throw invalid(decoder.codingPath, e.description)
        }
    }
}

extension Substring {
    var trimmingSpaces: String { String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
}
