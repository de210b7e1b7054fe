import BatonWire
import XCTest

final class StatusAndEventTests: XCTestCase {
    private let t0: Int64 = 1_795_867_638_123  // 2026-11-28T12:07:18.123Z

    private var full: WorkflowStatus {
        WorkflowStatus(
            id: "01J", name: "hello", state: .failed, reason: "job 01J.0.0 (fail) failed after 2 attempts: boom",
            blocks: [
                .init(state: .failed, jobs: [
                    .init(jobId: "01J.0.0", type: "fail", name: "f", state: .failed, attempt: 2, output: nil,
                          error: "boom", startedAt: t0 + 1, finishedAt: t0 + 2),
                    .init(jobId: "01J.0.1", type: "echo", state: .succeeded, attempt: 1,
                          output: ["message": "hi", "n": [1, nil]], startedAt: t0 + 1, finishedAt: t0 + 3),
                ]),
                .init(state: .cancelled, jobs: [.init(jobId: "01J.1.0", type: "echo", state: .cancelled, attempt: 0),
                                               .init(jobId: "01J.1.1", type: "disk.erase", state: .pending, attempt: 0,
                                                     waitingFor: "no worker for disk.erase")]),
            ],
            submittedAt: t0, startedAt: t0 + 1, finishedAt: t0 + 4)
    }

    // MARK: WorkflowStatus

    func testStatusJsonRoundTripsWithEveryField() throws {
        let s = full
        XCTAssertEqual(try WorkflowStatus(json: s.json.objectValue!), s)
        XCTAssertEqual(try WorkflowStatus(json: try decodeBody(JSONWriter.bytes(s.json))), s)
        XCTAssertEqual(s.jobCount, 4)
        XCTAssertEqual(s.json["blocks"]?.arrayValue?[1]["jobs"]?.arrayValue?[1]["waiting_for"], "no worker for disk.erase")
        XCTAssertEqual(s.count(.failed), 1)
        XCTAssertEqual(s.count(.cancelled), 1)
        XCTAssertEqual(s.count(.running), 0)
    }

    func testStatusExactBytesWithAbsentOptionals() {
        let s = WorkflowStatus(id: "01J", name: "hello", state: .running, blocks: [
            .init(state: .running, jobs: [.init(jobId: "01J.0.0", type: "echo", name: "greet-world", state: .pending, attempt: 0)]),
        ], submittedAt: t0, startedAt: t0 + 279)
        XCTAssertEqual(JSONWriter.string(s.json), """
            {"blocks":[{"jobs":[{"attempt":0,"job_id":"01J.0.0","name":"greet-world","state":"PENDING","type":"echo"}],"state":"RUNNING"}],\
            "id":"01J","name":"hello","started_at":"2026-11-28T12:07:18.402Z","state":"RUNNING","submitted_at":"2026-11-28T12:07:18.123Z"}
            """)
    }

    func testAbsentOptionalsAreAbsentNotNull() {
        let s = WorkflowStatus(id: "i", name: "n", state: .submitted,
                               blocks: [.init(state: .pending, jobs: [.init(jobId: "i.0.0", type: "t", state: .pending, attempt: 0)])],
                               submittedAt: 0)
        let o = s.json.objectValue!
        XCTAssertEqual(Set(o.keys), ["id", "name", "state", "blocks", "submitted_at"])
        let job = o["blocks"]!.arrayValue![0]["jobs"]!.arrayValue![0].objectValue!
        XCTAssertEqual(Set(job.keys), ["job_id", "type", "state", "attempt"])
        XCTAssertEqual(try WorkflowStatus(json: o), s)
    }

    func testStatusEveryStateRoundTrips() throws {
        for state in WorkflowState.allCases {
            var s = full
            s.state = state
            XCTAssertEqual(try WorkflowStatus(json: s.json.objectValue!), s)
        }
        for state in JobState.allCases {
            var s = full
            s.blocks[0].jobs[0].state = state
            XCTAssertEqual(try WorkflowStatus(json: s.json.objectValue!), s)
        }
        for state in BlockState.allCases {
            var s = full
            s.blocks[1].state = state
            XCTAssertEqual(try WorkflowStatus(json: s.json.objectValue!), s)
        }
    }

    func testStatusDecodingErrors() {
        var o = full.json.objectValue!
        o["state"] = "DONE"
        assertBadRequest("state: unknown value \"DONE\"") { () throws(WireError) in try WorkflowStatus(json: o) }
        o = full.json.objectValue!
        o["submitted_at"] = "yesterday"
        assertBadRequest("submitted_at: not an RFC 3339 UTC timestamp") { () throws(WireError) in try WorkflowStatus(json: o) }
        o = full.json.objectValue!
        o["blocks"] = [1]
        assertBadRequest("blocks[0]: must be an object, got a number") { () throws(WireError) in try WorkflowStatus(json: o) }
        o = full.json.objectValue!
        o["id"] = nil
        assertBadRequest("id: required") { () throws(WireError) in try WorkflowStatus(json: o) }
    }

    func testStateEnumsRawValuesAndFinality() {
        XCTAssertEqual(WorkflowState.allCases.map(\.rawValue),
                       ["SUBMITTED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "STOPPED", "EXPIRED"])
        XCTAssertEqual(WorkflowState.allCases.filter(\.isFinal), [.succeeded, .failed, .cancelled, .expired])
        XCTAssertEqual(WorkflowState.allCases.filter(\.isSettled), [.succeeded, .failed, .cancelled, .stopped, .expired])
        XCTAssertEqual(JobState.allCases.map(\.rawValue), ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"])
        XCTAssertEqual(JobState.allCases.filter(\.isFinal), [.succeeded, .failed, .cancelled])
    }

    // MARK: WorkflowEvent

    func testEventExactBytes() {
        XCTAssertEqual(JSONWriter.string(WorkflowEvent(seq: 1, at: t0, kind: .workflowSubmitted, fields: ["name": "hello"]).json),
                       #"{"at":"2026-11-28T12:07:18.123Z","kind":"workflow.submitted","name":"hello","seq":1}"#)
        XCTAssertEqual(JSONWriter.string(WorkflowEvent(seq: 2, at: t0, kind: .workflowRunning).json),
                       #"{"at":"2026-11-28T12:07:18.123Z","kind":"workflow.running","seq":2}"#)
        let dispatched = WorkflowEvent(seq: 4, at: t0 + 279, kind: .jobDispatched,
                                       fields: ["block": 0, "job": 0, "job_id": "01J.0.0", "attempt": 1, "worker": "w1"])
        XCTAssertEqual(JSONWriter.string(dispatched.json),
                       #"{"at":"2026-11-28T12:07:18.402Z","attempt":1,"block":0,"job":0,"job_id":"01J.0.0","kind":"job.dispatched","seq":4,"worker":"w1"}"#)
    }

    func testEveryEventKindRoundTrips() throws {
        for (n, kind) in EventKind.allCases.enumerated() {
            let e = WorkflowEvent(seq: Int64(n + 1), at: t0 + Int64(n), kind: kind,
                                  fields: ["block": 1, "error": "e", "retry_at": "2026-11-28T12:07:19.000Z"])
            XCTAssertEqual(try WorkflowEvent(json: e.json.objectValue!), e, kind.rawValue)
        }
        let bare = WorkflowEvent(seq: 9, at: 0, kind: .workflowSucceeded)
        XCTAssertEqual(Set(bare.json.objectValue!.keys), ["seq", "at", "kind"])
        XCTAssertEqual(try WorkflowEvent(json: bare.json.objectValue!), bare)
    }

    func testEventFieldsCannotOverrideTheEnvelope() {
        let e = WorkflowEvent(seq: 3, at: 0, kind: .blockStarted, fields: ["seq": 99, "kind": "x", "at": "y", "block": 0])
        XCTAssertEqual(JSONWriter.string(e.json), #"{"at":"1970-01-01T00:00:00.000Z","block":0,"kind":"block.started","seq":3}"#)
    }

    func testEventDecodingErrors() {
        assertBadRequest("kind: unknown value \"job.exploded\"") { () throws(WireError) in
            try WorkflowEvent(json: ["seq": 1, "at": "2026-11-28T12:07:18.123Z", "kind": "job.exploded"])
        }
        assertBadRequest("at: not an RFC 3339 UTC timestamp") { () throws(WireError) in
            try WorkflowEvent(json: ["seq": 1, "at": "noon", "kind": "workflow.running"])
        }
        assertBadRequest("seq: must be between 1 and 9223372036854775807, got 0") { () throws(WireError) in
            try WorkflowEvent(json: ["seq": 0, "at": "2026-11-28T12:07:18.123Z", "kind": "workflow.running"])
        }
        assertBadRequest("kind: required") { () throws(WireError) in try WorkflowEvent(json: ["seq": 1]) }
    }

    func testEventKindNames() {
        XCTAssertEqual(EventKind.allCases.map(\.rawValue), [
            "workflow.submitted", "workflow.running", "workflow.succeeded", "workflow.failed", "workflow.cancelled",
            "workflow.expired", "workflow.stopped", "block.started", "block.succeeded", "job.dispatched", "job.succeeded",
            "job.retrying", "job.failed", "job.cancelled", "job.stopped", "job.progress",
        ])
    }
}
