import BatonWire
import XCTest
@testable import BatonWeb

final class OverviewPageTests: XCTestCase {
    private func render(limits: Result<[String: JSONValue], WebError>, stats: Result<StatsSnapshot, WebError> = .success(Fixtures.snapshot())) -> String {
        OverviewPage(broker: "tcp://127.0.0.1:5555", stats: stats, limits: limits, throughput: nil, token: "tok", notice: nil, now: 0)
            .render().text
    }

    func testStopInForceIsShownAndEscaped() {
        let limits: [String: JSONValue] = ["job_types": [], "workflows": [],
                                           "stops": [["name": "*", "reason": "<bad deploy>", "at": "2026-12-05T10:00:00.000Z", "source": "stop"]]]
        let html = render(limits: .success(limits))
        XCTAssertTrue(html.contains("EMERGENCY STOP in force"))
        XCTAssertTrue(html.contains("&lt;bad deploy&gt;"))
        XCTAssertTrue(html.contains("id=\"stop-form\""))
    }

    func testWithoutLimitsThereAreNoStopForms() {
        let html = render(limits: .failure(.brokerRefused(code: .forbidden, "admin only")))
        XCTAssertFalse(html.contains("stop-form"))
        XCTAssertTrue(html.contains("LIMITS: forbidden: admin only"))
    }

    func testABrokerThatIsDownIsNamed() {
        let down = WebError.brokerUnreachable(endpoint: "tcp://127.0.0.1:5555", "no reply to STATS")
        let html = render(limits: .failure(down), stats: .failure(down))
        XCTAssertTrue(html.contains("broker unreachable at tcp://127.0.0.1:5555"))
    }

    func testWorkerNamesAreEscapedOnTheWorkersPage() {
        let html = WorkersPage(broker: "b", stats: Fixtures.snapshot(), now: 0).render().text
        XCTAssertTrue(html.contains("w&lt;1&gt;"))
        XCTAssertFalse(html.contains("w<1>"))
    }
}
