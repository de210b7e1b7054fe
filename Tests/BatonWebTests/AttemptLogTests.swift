import BatonWire
import XCTest
@testable import BatonWeb

final class AttemptLogTests: XCTestCase {
    func testEachAttemptEndsWithItsOwnEvent() {
        var log = AttemptLog()
        log.add(WorkflowEvent(seq: 1, at: 10, kind: .jobDispatched, fields: ["job_id": "W.0.0", "attempt": 1, "worker": "a"]))
        log.add(WorkflowEvent(seq: 2, at: 20, kind: .jobRetrying, fields: ["job_id": "W.0.0", "attempt": 1, "error": "boom"]))
        log.add(WorkflowEvent(seq: 3, at: 30, kind: .jobDispatched, fields: ["job_id": "W.0.0", "attempt": 2, "worker": "b"]))
        log.add(WorkflowEvent(seq: 4, at: 45, kind: .jobSucceeded, fields: ["job_id": "W.0.0", "attempt": 2]))
        log.add(WorkflowEvent(seq: 5, at: 46, kind: .workflowSucceeded))
        XCTAssertEqual(log["W.0.0"], [
            .init(number: 1, worker: "a", dispatchedAt: 10, endedAt: 20, outcome: "retried", error: "boom"),
            .init(number: 2, worker: "b", dispatchedAt: 30, endedAt: 45, outcome: "succeeded", error: nil),
        ])
        XCTAssertEqual(log.lastSeq, 5)
    }

    func testJobPlaceFromItsId() {
        XCTAssertEqual(WorkflowView.jobPlace("01ABC.2.17")?.block, 2)
        XCTAssertEqual(WorkflowView.jobPlace("01ABC.2.17")?.job, 17)
        XCTAssertNil(WorkflowView.jobPlace("nonsense"))
    }
}
