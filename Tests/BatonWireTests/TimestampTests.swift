import BatonWire
import Foundation
import XCTest

final class TimestampTests: XCTestCase {
    /// Known instants, computed independently (Python's datetime).
    private let known: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00.000Z"),
        (1, "1970-01-01T00:00:00.001Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-86_400_000, "1969-12-31T00:00:00.000Z"),
        (1_709_210_096_789, "2024-02-29T12:34:56.789Z"),
        (1_709_251_200_000, "2024-03-01T00:00:00.000Z"),
        (1_795_867_638_123, "2026-11-28T12:07:18.123Z"),
        (951_868_800_000, "2000-03-01T00:00:00.000Z"),
        (946_684_799_999, "1999-12-31T23:59:59.999Z"),
        (4_107_542_399_999, "2100-02-28T23:59:59.999Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (-2_208_988_800_000, "1900-01-01T00:00:00.000Z"),
    ]

    func testFormatsKnownInstantsExactly() {
        for (ms, text) in known {
            XCTAssertEqual(Timestamp.format(ms: ms), text, "\(ms)")
        }
    }

    /// The bytes written in place are the String's, quoted, after whatever came before:
    /// known instants, years outside 0...9999 (the interpolated path) and a random walk.
    func testWritesTheSameTextAsJSONInPlace() {
        var instants = known.map(\.0) + [-62_167_219_200_001, 253_402_300_800_000, Int64(1) << 50, -(Int64(1) << 50)]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { instants.append(Int64.random(in: -(Int64(1) << 45)...(Int64(1) << 45), using: &rng)) }
        for ms in instants {
            var out = Array("prefix,".utf8)
            Timestamp.writeJSON(ms: ms, into: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), "prefix,\"" + Timestamp.format(ms: ms) + "\"", "\(ms)")
        }
    }

    func testParsesKnownInstantsExactly() {
        for (ms, text) in known {
            XCTAssertEqual(Timestamp.parse(text), ms, text)
        }
    }

    func testParsesSecondsWithoutMilliseconds() {
        XCTAssertEqual(Timestamp.parse("2024-02-29T12:34:56Z"), 1_709_210_096_000)
        XCTAssertEqual(Timestamp.parse("1970-01-01T00:00:00Z"), 0)
    }

    func testRefusesWhatIsNotATimestamp() {
        for text in ["", "Z", "2024-02-29", "2024-02-29T12:34:56.789", "2024-02-29T12:34:56.789+00:00",
                     "2024-0a-29T12:34:56.789Z", "2024-02-29T12:3x:56.789Z", "20240229T123456.789Z0",
                     "abcd-ef-ghTij:kl:mn.opqZ"] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
    }

    func testRoundTripsOverFiveCenturies() {
        // A fixed pseudo-random walk from 1800 to 2300, plus every ms of one second.
        var ms: Int64 = -5_364_662_400_000
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        while ms < 10_413_792_000_000 {
            let text = Timestamp.format(ms: ms)
            XCTAssertEqual(text.utf8.count, 24, text)
            XCTAssertEqual(Timestamp.parse(text), ms, text)
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            ms += Int64(state >> 24) % 3_000_000_000 + 1  // about 10,000 steps
        }
        for ms in Int64(1_709_210_096_000)..<1_709_210_097_000 {
            XCTAssertEqual(Timestamp.parse(Timestamp.format(ms: ms)), ms)
        }
    }

    func testAgreesWithTheGregorianCalendar() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? -1)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        // Every day from 1896 to 2104 at a varying time of day: leap years, century rules.
        var day: Int64 = -27_000
        while day < 49_000 {
            let seconds = day * 86_400 + ((day &* 7_919) % 86_400 + 86_400) % 86_400
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second],
                                            from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            let expected = "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).123Z"
            XCTAssertEqual(Timestamp.format(ms: seconds * 1000 + 123), expected)
            day += 1
        }
    }

    func testFormatSortsLikeTheInstants() {
        let values: [Int64] = [-86_400_001, -1, 0, 999, 1000, 59_999, 60_000, 1_709_210_096_789, 1_795_867_638_123]
        let texts = values.map { Timestamp.format(ms: $0) }
        XCTAssertEqual(texts, texts.sorted())
    }

    /// RFC 3339 allows any number of fraction digits and requires valid fields and
    /// separators; `parse` must not return a different instant than the text names.
    func testParseNeverReturnsAWrongInstant() {
        let base: Int64 = 1_709_210_096_000
        let half = Timestamp.parse("2024-02-29T12:34:56.5Z")
        XCTAssertTrue(half == nil || half == base + 500, "\"…56.5Z\" parsed as \(String(describing: half))")
        let micro = Timestamp.parse("2024-02-29T12:34:56.789123Z")
        XCTAssertTrue(micro == nil || micro == base + 789, "\"…56.789123Z\" parsed as \(String(describing: micro))")
        for text in ["2024-13-01T00:00:00.000Z", "2024-02-30T00:00:00.000Z", "2024-02-29T25:00:00.000Z",
                     "2024-02-29T12:61:00.000Z", "2024/02/29T12:34:56.789Z", "2024-02-29 12:34:56.789Z",
                     "2024-02-29T12:34:56,789Z"] {
            XCTAssertNil(Timestamp.parse(text), text)
        }
    }
}
