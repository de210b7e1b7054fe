import Logging
import XCTest
@testable import BatonWeb

final class PrometheusExporterTests: XCTestCase {
    private let exporter = PrometheusExporter(logger: Logger(label: "test"))

    /// The sample lines (no comments) as name{labels} → value.
    private func samples(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            out[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return out
    }

    func testAScrapeCarriesAbsoluteValues() {
        let s = samples(exporter.render(Fixtures.snapshot(), scrapeNanoseconds: 1_000_000))
        XCTAssertEqual(s["baton_up"], "1.0")
        XCTAssertEqual(s["baton_workflows_finished_total{state=\"SUCCEEDED\"}"], "3")
        XCTAssertEqual(s["baton_requests_total"], "40")
        XCTAssertEqual(s["baton_requests_rejected_total{code=\"not_found\"}"], "2")
        XCTAssertEqual(s["baton_jobs_queued{type=\"echo\"}"], "4.0")
        XCTAssertEqual(s["baton_turn_messages_bucket{le=\"+Inf\"}"], "100")
        XCTAssertEqual(s["baton_commit_duration_seconds_sum"], "0.125")
        XCTAssertEqual(s["baton_exporter_broker_restarts_total"], "0")
    }

    func testCountersFollowTheBrokerWithinOneStart() {
        _ = exporter.render(Fixtures.snapshot(Fixtures.stats(succeeded: 3, requests: 40)), scrapeNanoseconds: 1)
        let s = samples(exporter.render(Fixtures.snapshot(Fixtures.stats(succeeded: 7, requests: 90)), scrapeNanoseconds: 1))
        XCTAssertEqual(s["baton_workflows_finished_total{state=\"SUCCEEDED\"}"], "7")
        XCTAssertEqual(s["baton_requests_total"], "90")
    }

    func testABrokerRestartStartsTheCountersAgainAndSaysSo() {
        _ = exporter.render(Fixtures.snapshot(Fixtures.stats(succeeded: 9, requests: 90)), scrapeNanoseconds: 1)
        let later = Fixtures.stats(startedAt: "2026-12-05T11:00:00.000Z", time: "2026-12-05T11:00:05.000Z", succeeded: 1, requests: 2)
        let s = samples(exporter.render(Fixtures.snapshot(later), scrapeNanoseconds: 1))
        XCTAssertEqual(s["baton_requests_total"], "2")
        XCTAssertEqual(s["baton_workflows_finished_total{state=\"SUCCEEDED\"}"], "1")
        XCTAssertEqual(s["baton_exporter_broker_restarts_total"], "1")
        XCTAssertEqual(s["baton_broker_start_time_seconds"], "1796468400.0")
    }

    func testACounterThatGoesDownWithoutARestartStartsANewGeneration() {
        _ = exporter.render(Fixtures.snapshot(Fixtures.stats(requests: 90)), scrapeNanoseconds: 1)
        let s = samples(exporter.render(Fixtures.snapshot(Fixtures.stats(requests: 50)), scrapeNanoseconds: 1))
        XCTAssertEqual(s["baton_requests_total"], "50")
    }

    func testGoneJobTypesLeaveNoStaleSeries() {
        _ = exporter.render(Fixtures.snapshot(), scrapeNanoseconds: 1)
        let s = samples(exporter.render(Fixtures.snapshot(Fixtures.stats(types: [])), scrapeNanoseconds: 1))
        XCTAssertNil(s["baton_jobs_queued{type=\"echo\"}"])
    }

    func testABrokerThatDidNotAnswerIsUpZeroWithNoBrokerSeries() {
        _ = exporter.render(Fixtures.snapshot(), scrapeNanoseconds: 1)
        let text = exporter.render(nil, scrapeNanoseconds: 1)
        let s = samples(text)
        XCTAssertEqual(s["baton_up"], "0.0")
        XCTAssertNil(s["baton_requests_total"])
        XCTAssertEqual(s["baton_exporter_scrape_failures_total"], "1")
        // And the counters carry on where they were when it answers again.
        let again = samples(exporter.render(Fixtures.snapshot(), scrapeNanoseconds: 1))
        XCTAssertEqual(again["baton_requests_total"], "40")
    }

    func testLabelValuesFromTheBrokerAreEscaped() {
        let odd = Fixtures.stats(types: [["type": "a\"b\\c\nd", "queued": 1, "running": 0, "workers": 0]])
        let text = exporter.render(Fixtures.snapshot(odd), scrapeNanoseconds: 1)
        XCTAssertTrue(text.contains("baton_jobs_queued{type=\"a\\\"b\\\\c\\nd\"} 1.0"), text)
    }
}
