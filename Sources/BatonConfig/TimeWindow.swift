/// The `window` rule: a workflow may start only on `days`, between `from` (inclusive) and
/// `to` (exclusive), in UTC. When `to` is earlier than `from` the window crosses
/// midnight and belongs to the day it opens on: `days: [sat], from: "22:00", to: "02:00"`
/// is open Saturday 22:00 to Sunday 02:00.
public struct TimeWindow: Equatable, Sendable {
    public var days: Set<Weekday>
    /// Minutes after midnight UTC.
    public var fromMinute: Int
    public var toMinute: Int

    public init(days: Set<Weekday> = Set(Weekday.allCases), fromMinute: Int, toMinute: Int) {
        self.days = days
        self.fromMinute = fromMinute
        self.toMinute = toMinute
    }

    public func contains(_ nowMs: Int64) -> Bool {
        let (day, minute) = Self.split(nowMs)
        if fromMinute < toMinute { return days.contains(day) && minute >= fromMinute && minute < toMinute }
        return (days.contains(day) && minute >= fromMinute) || (days.contains(day.previous) && minute < toMinute)
    }

    /// The UTC weekday and minute of day of a Unix time in ms.
    static func split(_ ms: Int64) -> (Weekday, Int) {
        let dayMs: Int64 = 86_400_000
        let (q, r) = ms.quotientAndRemainder(dividingBy: dayMs)
        let days = r < 0 ? q - 1 : q
        let inDay = r < 0 ? r + dayMs : r
        // 1970-01-01 was a Thursday.
        let weekday = Weekday.allCases[Int((days + 3) % 7 + 7) % 7]
        return (weekday, Int(inDay / 60_000))
    }

    public var description: String {
        let dayList = Weekday.allCases.filter(days.contains).map(\.rawValue).joined(separator: ", ")
        return "\(dayList) \(Self.hhmm(fromMinute))-\(Self.hhmm(toMinute)) UTC"
    }

    static func hhmm(_ minute: Int) -> String {
        let h = minute / 60, m = minute % 60
        return (h < 10 ? "0\(h)" : "\(h)") + ":" + (m < 10 ? "0\(m)" : "\(m)")
    }

    /// Minutes after midnight for `HH:MM` (00:00 to 23:59), or nil.
    static func minute(_ text: String) -> Int? {
        let u = Array(text.utf8)
        guard u.count == 5, u[2] == UInt8(ascii: ":"),
              let h = Int(String(text.prefix(2))), let m = Int(String(text.suffix(2))),
              u[0...1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), u[3...4].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              h < 24, m < 60
        else { return nil }
        return h * 60 + m
    }
}

/// Days as the config writes them. Order is Monday first (ISO 8601).
public enum Weekday: String, CaseIterable, Sendable, Decodable {
    case mon, tue, wed, thu, fri, sat, sun

    var previous: Weekday {
        let all = Weekday.allCases
        return all[(all.firstIndex(of: self)! + all.count - 1) % all.count]
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = Weekday(rawValue: text.lowercased()) else {
            throw invalid(decoder.codingPath, "\"\(text)\" is not a day (mon, tue, wed, thu, fri, sat, sun)")
        }
        self = day
    }
}

extension TimeWindow: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["days", "from", "to"])
        let days: [Weekday]? = try c.optional("days")
        if let days, days.isEmpty { throw invalid(c.path("days"), "must list at least one day (omit it for every day)") }
        let from = try Self.time(c, "from"), to = try Self.time(c, "to")
        guard from != to else { throw invalid(c.path("to"), "equals from: the window would be empty") }
        self.init(days: days.map(Set.init) ?? Set(Weekday.allCases), fromMinute: from, toMinute: to)
    }

    private static func time(_ c: KeyedDecodingContainer<ConfigKey>, _ key: String) throws -> Int {
        let text: String = try c.required(key)
        guard let m = minute(text) else { throw invalid(c.path(key), "\"\(text)\" is not a time: expected HH:MM from 00:00 to 23:59 (UTC)") }
        return m
    }
}
