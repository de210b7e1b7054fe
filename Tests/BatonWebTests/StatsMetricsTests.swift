import XCTest
@testable import BatonWeb

final class StatsMetricsTests: XCTestCase {
    private func family(_ name: String, _ s: StatsSnapshot = Fixtures.snapshot()) -> MetricFamily? {
        StatsMetrics.families(s).first { $0.name == name }
    }

    private func value(_ name: String, _ labels: [String: String] = [:], _ s: StatsSnapshot = Fixtures.snapshot()) -> Double? {
        family(name, s)?.samples.first { Dictionary(uniqueKeysWithValues: $0.labels.map { ($0.name, $0.value) }) == labels }?.value
    }

    func testGaugesAndCountersFollowTheReply() {
        XCTAssertEqual(value("baton_workflows", ["state": "RUNNING"]), 2)
        XCTAssertEqual(value("baton_workflows_finished_total", ["state": "SUCCEEDED"]), 3)
        XCTAssertEqual(value("baton_jobs_queued", ["type": "echo"]), 4)
        XCTAssertEqual(value("baton_jobs_running", ["type": "echo"]), 2)
        XCTAssertEqual(value("baton_workers"), 1)
        XCTAssertEqual(value("baton_requests_total"), 40)
        XCTAssertEqual(value("baton_requests_rejected_total", ["code": "not_found"]), 2)
        XCTAssertEqual(value("baton_jobs_dispatched_total"), 12)
        XCTAssertEqual(value("baton_attempts_total", ["outcome": "succeeded"]), 10)
        XCTAssertEqual(value("baton_attempts_total", ["outcome": "failed"]), 2)
        XCTAssertEqual(value("baton_timeouts_total", ["kind": "timeout"]), 1)
        XCTAssertEqual(value("baton_timeouts_total", ["kind": "heartbeat"]), 0)
        XCTAssertEqual(value("baton_turns_total"), 100)
        XCTAssertEqual(value("baton_commits_total"), 30)
        XCTAssertEqual(value("baton_process_resident_memory_bytes"), 40_000_000)
        XCTAssertEqual(value("baton_database_bytes"), 300_000)
        XCTAssertEqual(value("baton_jobs_waiting", ["reason": "no_worker"]), 4)
    }

    func testEveryStateIsWrittenEvenWhenTheBrokerLeftItOut() {
        var o = Fixtures.stats()
        o["finished"] = ["SUCCEEDED": 1]
        let s = Fixtures.snapshot(o)
        XCTAssertEqual(family("baton_workflows_finished_total", s)?.samples.count, 4)
        XCTAssertEqual(value("baton_workflows_finished_total", ["state": "EXPIRED"], s), 0)
    }

    func testCountersEndInTotalAndKindsAreRight() {
        for f in StatsMetrics.families(Fixtures.snapshot()) {
            XCTAssertEqual(f.kind == .counter, f.name.hasSuffix("_total"), f.name)
        }
    }

    func testHistogramsKeepTheBrokersBounds() {
        let h = StatsMetrics.histograms(Fixtures.snapshot())
        XCTAssertEqual(h.map(\.name), ["baton_turn_messages", "baton_commit_duration_seconds"])
        XCTAssertEqual(h[1].histogram.le, [0.001, 0.01])
    }
}
