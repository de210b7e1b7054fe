import BatonWire
import XCTest
@testable import BatonWeb

final class StatsSnapshotTests: XCTestCase {
    func testReadsEveryFigure() throws {
        let s = try StatsSnapshot(json: Fixtures.stats())
        XCTAssertEqual(s.startedAt, Timestamp.parse("2026-12-05T10:00:00.000Z"))
        XCTAssertEqual(s.workflows["RUNNING"], 2)
        XCTAssertEqual(s.finished["SUCCEEDED"], 3)
        XCTAssertEqual(s.jobTypes, [.init(type: "echo", queued: 4, running: 2, workers: 1)])
        XCTAssertEqual(s.workers.first?.name, "w<1>")
        XCTAssertEqual(s.counters["dispatched"], 12)
        XCTAssertEqual(s.rejected, ["not_found": 2])
        XCTAssertEqual(s.turnMessages, .init(le: [1, 2, 4], counts: [50, 80, 95], count: 100, sum: 170))
        XCTAssertEqual(s.commitSeconds?.sum, 0.125)
        XCTAssertEqual(s.rssBytes, 40_000_000)
    }

    func testWithoutStartedAtIsABadReply() {
        var o = Fixtures.stats()
        o["started_at"] = nil
        XCTAssertThrowsError(try StatsSnapshot(json: o)) { XCTAssertEqual($0 as? WebError, .badReply("STATS without started_at")) }
    }

    func testHistogramThatIsNotCumulativeIsRefused() {
        var o = Fixtures.stats()
        o["turns"] = ["count": 1, "messages": ["le": [1, 2], "counts": [5, 3], "count": 5, "sum": 1]]
        XCTAssertThrowsError(try StatsSnapshot(json: o))
    }

    func testUnknownFieldsAreIgnored() throws {
        var o = Fixtures.stats()
        o["something_new"] = ["x": 1]
        XCTAssertNoThrow(try StatsSnapshot(json: o))
    }
}
