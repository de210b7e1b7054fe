import BatonWire
import XCTest
@testable import BatonWeb

final class ThroughputTests: XCTestCase {
    func testRatesBetweenTwoReadsOfOneBrokerStart() throws {
        let old = Fixtures.snapshot(Fixtures.stats(time: "2026-12-05T10:05:00.000Z", requests: 40))
        var o = Fixtures.stats(time: "2026-12-05T10:05:10.000Z", requests: 140)
        o["counters"] = ["requests": 140, "succeeded": 60, "failed": 2, "dispatched": 72]
        let t = try XCTUnwrap(Throughput(from: old, to: Fixtures.snapshot(o)))
        XCTAssertEqual(t.seconds, 10)
        XCTAssertEqual(t.requests, 10)
        XCTAssertEqual(t.succeeded, 5)
        XCTAssertEqual(t.dispatched, 6)
    }

    func testNoRateWithoutAnEarlierSampleOfTheSameStart() {
        let now = Fixtures.snapshot()
        XCTAssertNil(Throughput(from: nil, to: now))
        XCTAssertNil(Throughput(from: now, to: now))  // no time between them
        let restarted = Fixtures.snapshot(Fixtures.stats(startedAt: "2026-12-05T10:04:00.000Z", time: "2026-12-05T10:06:00.000Z"))
        XCTAssertNil(Throughput(from: now, to: restarted))
    }
}
