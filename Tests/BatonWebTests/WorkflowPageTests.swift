import BatonClient
import BatonWire
import XCTest
@testable import BatonWeb

final class WorkflowPageTests: XCTestCase {
    private func view(state: WorkflowState = .running, name: String = Fixtures.hostile) -> WorkflowView {
        let t0: Int64 = 1_796_468_400_000
        let jobs = [
            WorkflowStatus.Job(jobId: "W.0.0", type: "echo", name: "<img src=x onerror=alert(1)>", state: .succeeded, attempt: 1,
                               output: ["html": .string("</td><script>x()</script>")], startedAt: t0, finishedAt: t0 + 500),
            WorkflowStatus.Job(jobId: "W.0.1", type: "fail", state: .running, attempt: 2, error: "exit 1: <b>boom</b>",
                               startedAt: t0 + 600),
        ]
        let status = WorkflowStatus(id: "W", name: name, state: state, reason: state == .failed ? "job W.0.1 failed: <x>" : nil,
                                    blocks: [.init(state: .running, jobs: jobs)], submittedAt: t0, startedAt: t0)
        var log = AttemptLog()
        log.add(WorkflowEvent(seq: 1, at: t0, kind: .jobDispatched, fields: ["job_id": "W.0.1", "attempt": 1, "worker": "w\"1"]))
        log.add(WorkflowEvent(seq: 2, at: t0 + 100, kind: .jobRetrying, fields: ["job_id": "W.0.1", "attempt": 1, "error": "<oops>"]))
        log.add(WorkflowEvent(seq: 3, at: t0 + 600, kind: .jobDispatched, fields: ["job_id": "W.0.1", "attempt": 2, "worker": "w2"]))
        let placed = jobs.enumerated().map { WorkflowView.PlacedJob(index: $0.offset, block: 0, job: $0.offset, value: $0.element) }
        return WorkflowView(status: status, jobs: placed, from: 0, next: 100, attempts: log,
                            recentEvents: [WorkflowEvent(seq: 2, at: t0 + 100, kind: .jobRetrying, fields: ["error": "<oops>"])])
    }

    private func render(_ v: WorkflowView) -> String {
        WorkflowPage(broker: "tcp://127.0.0.1:5555", view: v, token: "tok", notice: nil, now: 1_796_468_401_000).render().text
    }

    func testEverythingFromUsersIsEscaped() {
        let html = render(view())
        for raw in [Fixtures.hostile, "<img src=x", "<script>x()", "<b>boom</b>", "<oops>", "w\"1"] {
            XCTAssertFalse(html.contains(raw), "unescaped: \(raw)")
        }
        XCTAssertTrue(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("&lt;b&gt;boom&lt;/b&gt;"))
    }

    func testAttemptsTimelineAndPager() {
        let html = render(view())
        XCTAssertTrue(html.contains("#1 on <code>w&quot;1</code> 100 ms retried"), html)
        XCTAssertTrue(html.contains("#2 on <code>w2</code>"))
        XCTAssertTrue(html.contains("class=\"bar outcome-retried\""))
        XCTAssertTrue(html.contains("href=\"/workflows/W?from=100\""))
        XCTAssertTrue(html.contains("data-events=\"/workflows/W/events?after=3\""))
    }

    func testCancelFormOnlyWhileNotFinal() {
        XCTAssertTrue(render(view(state: .running)).contains("name=\"token\" value=\"tok\""))
        XCTAssertFalse(render(view(state: .failed)).contains("cancel-form"))
    }

    func testFragmentIsTheBodyAlone() {
        let body = WorkflowPage(broker: "b", view: view(), token: "t", notice: nil, now: 0).body().text
        XCTAssertFalse(body.contains("<html"))
        XCTAssertTrue(body.contains("id=\"jobs\""))
    }
}
