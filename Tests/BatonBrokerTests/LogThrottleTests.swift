import XCTest

@testable import BatonBroker

final class LogThrottleTests: XCTestCase {
    func testAtMostSoManyLinesASecondThenOneLineSaysHowManyWereSuppressed() {
        var t = LogThrottle()
        t.maxPerSecond = 3
        let t0 = ContinuousClock.now
        let first = (0..<10).map { t.admit("line \($0)", isError: false, now: t0 + .milliseconds($0)) }
        XCTAssertEqual(first.filter { $0 != .suppress }.count, 3)
        XCTAssertEqual(t.admit("an error", isError: true, now: t0 + .milliseconds(50)), .log("an error", suppressedBefore: 0),
                       "errors always go out")
        XCTAssertEqual(t.admit("next second", isError: false, now: t0 + .seconds(1)), .log("next second", suppressedBefore: 7))
    }

    func testLongLinesAreCut() {
        var t = LogThrottle()
        t.maxLineBytes = 10
        guard case .log(let line, _) = t.admit(String(repeating: "x", count: 1_800_000), isError: false, now: .now) else {
            return XCTFail("suppressed")
        }
        XCTAssertEqual(line, "xxxxxxxxxx… (1799990 more bytes cut)")
    }
}
