/// RFC 3339 UTC timestamps with milliseconds, as every timestamp on the wire is:
/// `2026-11-28T12:07:18.123Z`. Internally time is integer milliseconds since the Unix
/// epoch, which is what the store keeps and the engine's clock returns.
public enum Timestamp {
    public static func format(ms: Int64) -> String {
        let f = Fields(ms: ms)
        if f.isFourDigitYear {
            // The common case, written digit by digit: interpolation with padded
            // Strings allocated a dozen times per timestamp, and replies carry many.
            return String(unsafeUninitializedCapacity: 24) { out in
                f.write(into: UnsafeMutableBufferPointer(rebasing: out[0..<24]))
                return 24
            }
        }
        return f.padded
    }

    /// `format(ms:)` as a JSON string (quoted), appended to `out` without making the
    /// String: STATUS pages, LIST rows and WATCH pages write two or three timestamps per
    /// row, and each String was an allocation and a copy.
    public static func writeJSON(ms: Int64, into out: inout [UInt8]) {
        let f = Fields(ms: ms)
        guard f.isFourDigitYear else {
            JSONWriter.writeString(f.padded, into: &out)
            return
        }
        // Written on the stack and appended in one copy: growing `out` by 24 zeros to
        // write them in place cost three times as much.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 26) { quoted in
            quoted[0] = UInt8(ascii: "\"")
            f.write(into: UnsafeMutableBufferPointer(rebasing: quoted[1..<25]))
            quoted[25] = UInt8(ascii: "\"")
            out.append(contentsOf: UnsafeBufferPointer(quoted))
        }
    }

    /// An instant's calendar fields in UTC.
    private struct Fields {
        var y, m, d, h, min, s, milli: Int64

        init(ms: Int64) {
            let days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
            let msOfDay = ms - days * 86_400_000
            (y, m, d) = Timestamp.civil(fromDays: days)
            h = msOfDay / 3_600_000
            min = msOfDay / 60_000 % 60
            s = msOfDay / 1000 % 60
            milli = msOfDay % 1000
        }

        var isFourDigitYear: Bool { (0...9999).contains(y) }

        /// The 24 bytes of a four-digit year's timestamp, into `out` (exactly 24 long).
        func write(into out: UnsafeMutableBufferPointer<UInt8>) {
            // Two digits at a time, no loop: a digit loop took ~300 instructions per
            // timestamp, and replies carry two or three per row.
            func two(_ v: Int64, at i: Int) {
                out[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v / 10)
                out[i + 1] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: v % 10)
            }
            two(y / 100, at: 0); two(y % 100, at: 2); out[4] = UInt8(ascii: "-")
            two(m, at: 5); out[7] = UInt8(ascii: "-")
            two(d, at: 8); out[10] = UInt8(ascii: "T")
            two(h, at: 11); out[13] = UInt8(ascii: ":")
            two(min, at: 14); out[16] = UInt8(ascii: ":")
            two(s, at: 17); out[19] = UInt8(ascii: ".")
            out[20] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: milli / 100)
            two(milli % 100, at: 21); out[23] = UInt8(ascii: "Z")
        }

        /// Any year, through interpolation (years past 9999 or before 0 are rare).
        var padded: String {
            "\(Timestamp.pad(y, 4))-\(Timestamp.pad(m, 2))-\(Timestamp.pad(d, 2))T\(Timestamp.pad(h, 2)):\(Timestamp.pad(min, 2)):\(Timestamp.pad(s, 2)).\(Timestamp.pad(milli, 3))Z"
        }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (UTC only, 1-9 fraction digits,
    /// truncated to milliseconds). Anything else — other separators, offsets,
    /// out-of-range fields such as month 13 or February 30 — is nil, never a wrong instant.
    public static func parse(_ text: String) -> Int64? {
        let u = Array(text.utf8)
        guard u.count >= 20, u.last == UInt8(ascii: "Z"), u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"),
              u[10] == UInt8(ascii: "T"), u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":")
        else { return nil }
        func num(_ r: Range<Int>) -> Int64? {
            var v: Int64 = 0
            for i in r {
                guard u[i] >= 48, u[i] <= 57 else { return nil }
                v = v * 10 + Int64(u[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10),
              let h = num(11..<13), let mi = num(14..<16), let s = num(17..<19),
              (1...12).contains(mo), d >= 1, d <= daysIn(month: mo, year: y), h <= 23, mi <= 59, s <= 59
        else { return nil }
        var milli: Int64 = 0
        if u.count > 20 {
            let digits = 20..<(u.count - 1)
            guard u[19] == UInt8(ascii: "."), (1...9).contains(digits.count), num(digits) != nil else { return nil }
            let firstThree = digits.prefix(3)
            milli = num(firstThree)! * [100, 10, 1][firstThree.count - 1]
        }
        let days = daysFromCivil(y, mo, d)
        return ((days * 24 + h) * 60 + mi) * 60_000 + s * 1000 + milli
    }

    private static func daysIn(month m: Int64, year y: Int64) -> Int64 {
        switch m {
        case 2: (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    fileprivate static func pad(_ v: Int64, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's civil calendar algorithms (proleptic Gregorian).
    fileprivate static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
