import BatonConfig
import XCTest

final class RetentionPeriodTests: XCTestCase {
    func testPeriodsParseAndBadOnesSayWhy() {
        XCTAssertEqual(try RetentionPeriod.parse("30d").get(), 30 * 86_400_000)
        XCTAssertEqual(try RetentionPeriod.parse("12h").get(), 12 * 3_600_000)
        XCTAssertEqual(try RetentionPeriod.parse("90m").get(), 90 * 60_000)
        XCTAssertEqual(try RetentionPeriod.parse("45s").get(), 45_000)
        XCTAssertEqual(try RetentionPeriod.parse("0").get(), 0)
        for bad in ["", "30", "d", "-1d", "0d", "1.5h", "30 d", "99999d"] {
            guard case .failure(let error) = RetentionPeriod.parse(bad) else { return XCTFail("\(bad) parsed") }
            XCTAssertTrue(error.description.contains("is not a retention period"), error.description)
        }
        XCTAssertEqual(RetentionPeriod.text(ms: 36 * 3_600_000), "36h")
        XCTAssertEqual(RetentionPeriod.text(ms: 0), "forever")
    }
}
