import BatonConfig
import XCTest

final class RateTests: XCTestCase {
    func testAcceptedRates() throws {
        let cases: [(String, Rate)] = [
            ("10/min", Rate(tokens: 10, periodMs: 60_000)),
            ("1/30min", Rate(tokens: 1, periodMs: 1_800_000)),
            ("5/s", Rate(tokens: 5, periodMs: 1000)),
            ("5/sec", Rate(tokens: 5, periodMs: 1000)),
            ("2/h", Rate(tokens: 2, periodMs: 3_600_000)),
            ("3/hour", Rate(tokens: 3, periodMs: 3_600_000)),
            ("1/10s", Rate(tokens: 1, periodMs: 10_000)),
            ("1/168h", Rate(tokens: 1, periodMs: 604_800_000)),
        ]
        for (text, rate) in cases { XCTAssertEqual(try Rate.parse(text).get(), rate, text) }
    }

    func testRefusedRates() {
        for text in ["", "10", "10/", "/min", "0/min", "-1/min", "10/minute", "10/m", "1/0min", "a/min", "1/min/2", "1.5/min", "1/169h"] {
            XCTAssertThrowsError(try Rate.parse(text).get(), text)
        }
    }
}
