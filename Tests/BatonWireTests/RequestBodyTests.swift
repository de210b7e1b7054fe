import BatonWire
import XCTest

/// The typed bodies of client requests and worker messages: validation and round trips.
final class RequestBodyTests: XCTestCase {
    private let spec: JSONValue = ["name": "w", "blocks": [["jobs": [["type": "echo"]]]]]

    private func submit(_ body: [String: JSONValue]) -> WireError? {
        wireError { () throws(WireError) in try SubmitRequest(body: body) }
    }

    // MARK: SUBMIT

    func testSubmitReadsWorkflowAndKey() throws {
        let r = try SubmitRequest(body: ["workflow": spec, "idempotency_key": "k-1", "extra": 1])
        XCTAssertEqual(r.idempotencyKey, "k-1")
        XCTAssertEqual(r.workflow.name, "w")
        XCTAssertNil(try SubmitRequest(body: ["workflow": spec]).idempotencyKey)
        XCTAssertNil(try SubmitRequest(body: ["workflow": spec, "idempotency_key": nil]).idempotencyKey)
    }

    func testSubmitErrors() {
        XCTAssertEqual(submit([:]), WireError(.badRequest, "workflow: required"))
        XCTAssertEqual(submit(["workflow": []]), WireError(.badRequest, "workflow: must be an object, got an array"))
        XCTAssertEqual(submit(["workflow": spec, "idempotency_key": ""]),
                       WireError(.badRequest, "idempotency_key: must not be empty"))
        XCTAssertEqual(submit(["workflow": spec, "idempotency_key": 7]),
                       WireError(.badRequest, "idempotency_key: must be a string, got a number"))
        XCTAssertEqual(submit(["workflow": spec, "idempotency_key": .string(String(repeating: "k", count: 257))]),
                       WireError(.badRequest, "idempotency_key: longer than 256 bytes"))
        XCTAssertNoThrow(try SubmitRequest(body: ["workflow": spec, "idempotency_key": .string(String(repeating: "k", count: 256))]))
    }

    func testSubmitChecksWorkflowBeforeKey() {
        XCTAssertEqual(submit(["workflow": ["name": "w"], "idempotency_key": ""]),
                       WireError(.badRequest, "workflow.blocks: required"))
    }

    func testSubmitBodyRoundTrips() throws {
        let r = try SubmitRequest(body: ["workflow": spec, "idempotency_key": "k"])
        XCTAssertEqual(try SubmitRequest(body: r.body.objectValue!), r)
        XCTAssertEqual(JSONWriter.string(r.body), #"{"idempotency_key":"k","workflow":{"blocks":[{"concurrency":1,"jobs":[{"args":{},"retry":{"backoff_ms":1000,"max_attempts":3},"timeout_ms":0,"type":"echo"}]}],"name":"w"}}"#)
        let keyless = SubmitRequest(workflow: r.workflow)
        XCTAssertNil(keyless.body["idempotency_key"], "absent, not null")
        XCTAssertEqual(try SubmitRequest(body: keyless.body.objectValue!), keyless)
    }

    // MARK: EXEC / STATUS / CANCEL

    func testWorkflowRef() throws {
        XCTAssertEqual(try WorkflowRef(body: ["id": "01J"]), WorkflowRef(id: "01J"))
        XCTAssertEqual(JSONWriter.string(WorkflowRef(id: "01J").body), #"{"id":"01J"}"#)
        XCTAssertEqual(try WorkflowRef(body: WorkflowRef(id: "x").body.objectValue!), WorkflowRef(id: "x"))
        XCTAssertEqual(try WorkflowRef(body: ["id": .string(String(repeating: "i", count: 128))]).id.utf8.count, 128)
        assertBadRequest("id: required") { () throws(WireError) in try WorkflowRef(body: [:]) }
        assertBadRequest("id: required") { () throws(WireError) in try WorkflowRef(body: ["id": nil]) }
        assertBadRequest("id: must not be empty") { () throws(WireError) in try WorkflowRef(body: ["id": ""]) }
        assertBadRequest("id: must be a string, got a number") { () throws(WireError) in try WorkflowRef(body: ["id": 5]) }
        assertBadRequest("id: longer than 128 bytes") { () throws(WireError) in
            try WorkflowRef(body: ["id": .string(String(repeating: "i", count: 129))])
        }
    }

    // MARK: WATCH

    func testStatusRequestPagesFromJobsFrom() throws {
        XCTAssertEqual(try StatusRequest(body: ["id": "a"]), StatusRequest(id: "a", jobsFrom: 0))
        XCTAssertEqual(try StatusRequest(body: ["id": "a", "jobs_from": 7]), StatusRequest(id: "a", jobsFrom: 7))
        XCTAssertEqual(try StatusRequest(body: ["id": "a", "jobs_from": nil]), StatusRequest(id: "a", jobsFrom: 0))
        assertBadRequest("id: required") { () throws(WireError) in try StatusRequest(body: ["jobs_from": 1]) }
        assertBadRequest("jobs_from: must be between 0 and 9223372036854775807, got -1") { () throws(WireError) in
            try StatusRequest(body: ["id": "a", "jobs_from": -1])
        }
        // The first page's body is the v1 body: old brokers answer it as before.
        XCTAssertEqual(JSONWriter.string(StatusRequest(id: "01J").body), #"{"id":"01J"}"#)
        XCTAssertEqual(JSONWriter.string(StatusRequest(id: "01J", jobsFrom: 3).body), #"{"id":"01J","jobs_from":3}"#)
    }

    func testWatchDefaultsAndFields() throws {
        XCTAssertEqual(try WatchRequest(body: ["id": "a"]), WatchRequest(id: "a", after: 0, waitMs: 0))
        XCTAssertEqual(try WatchRequest(body: ["id": "a", "after": 9, "wait_ms": 60000]),
                       WatchRequest(id: "a", after: 9, waitMs: 60000))
        XCTAssertEqual(try WatchRequest(body: ["id": "a", "after": .double(5), "wait_ms": nil]),
                       WatchRequest(id: "a", after: 5, waitMs: 0))
    }

    func testWatchErrors() {
        assertBadRequest("id: required") { () throws(WireError) in try WatchRequest(body: ["after": 1]) }
        assertBadRequest("after: must be between 0 and 9223372036854775807, got -1") { () throws(WireError) in
            try WatchRequest(body: ["id": "a", "after": -1])
        }
        assertBadRequest("after: must be an integer, got a string") { () throws(WireError) in
            try WatchRequest(body: ["id": "a", "after": "1"])
        }
        assertBadRequest("wait_ms: must be between 0 and 60000, got 60001") { () throws(WireError) in
            try WatchRequest(body: ["id": "a", "wait_ms": 60001])
        }
        assertBadRequest("wait_ms: must be an integer, got a number") { () throws(WireError) in
            try WatchRequest(body: ["id": "a", "wait_ms": .double(0.5)])
        }
    }

    func testWatchBodyRoundTrips() throws {
        let w = WatchRequest(id: "01J", after: 5, waitMs: 30000)
        XCTAssertEqual(JSONWriter.string(w.body), #"{"after":5,"id":"01J","wait_ms":30000}"#)
        XCTAssertEqual(try WatchRequest(body: w.body.objectValue!), w)
    }

    // MARK: LIST

    func testListDefaultsAndFields() throws {
        XCTAssertEqual(try ListRequest(body: [:]), ListRequest(state: nil, name: nil, limit: 50, before: nil))
        XCTAssertEqual(try ListRequest(body: ["state": "RUNNING", "name": "n", "limit": 1000, "before": "01J"]),
                       ListRequest(state: .running, name: "n", limit: 1000, before: "01J"))
        for s in WorkflowState.allCases {
            XCTAssertEqual(try ListRequest(body: ["state": .string(s.rawValue)]).state, s)
        }
    }

    func testListErrors() {
        assertBadRequest("state: unknown state \"running\"; one of SUBMITTED, RUNNING, SUCCEEDED, FAILED, CANCELLED, STOPPED, EXPIRED") {
            () throws(WireError) in try ListRequest(body: ["state": "running"])
        }
        assertBadRequest("state: must be a string, got a number") { () throws(WireError) in try ListRequest(body: ["state": 1]) }
        assertBadRequest("name: longer than 200 bytes") { () throws(WireError) in
            try ListRequest(body: ["name": .string(String(repeating: "n", count: 201))])
        }
        assertBadRequest("limit: must be between 1 and 1000, got 0") { () throws(WireError) in try ListRequest(body: ["limit": 0]) }
        assertBadRequest("limit: must be between 1 and 1000, got 1001") { () throws(WireError) in
            try ListRequest(body: ["limit": 1001])
        }
        assertBadRequest("before: longer than 128 bytes") { () throws(WireError) in
            try ListRequest(body: ["before": .string(String(repeating: "b", count: 129))])
        }
    }

    func testListBodyRoundTrips() throws {
        let full = ListRequest(state: .failed, name: "n", limit: 3, before: "01J")
        XCTAssertEqual(JSONWriter.string(full.body), #"{"before":"01J","limit":3,"name":"n","state":"FAILED"}"#)
        XCTAssertEqual(try ListRequest(body: full.body.objectValue!), full)
        let bare = ListRequest()
        XCTAssertEqual(JSONWriter.string(bare.body), #"{"limit":50}"#)
        XCTAssertEqual(try ListRequest(body: bare.body.objectValue!), bare)
    }

    // MARK: READY

    func testReady() throws {
        XCTAssertEqual(try ReadyBody(body: ["worker": "w1", "types": ["echo", "sleep"]]),
                       ReadyBody(worker: "w1", types: ["echo", "sleep"], capacity: 1))
        XCTAssertEqual(try ReadyBody(body: ["worker": "w", "types": ["t"], "capacity": 0]).capacity, 0, "0: draining")
        let r = ReadyBody(worker: "w1", types: ["echo", "file.write"], capacity: 10000)
        XCTAssertEqual(JSONWriter.string(.object(r.body)), #"{"capacity":10000,"types":["echo","file.write"],"worker":"w1"}"#)
        XCTAssertEqual(try ReadyBody(body: r.body), r)
    }

    func testReadyErrors() {
        assertBadRequest("worker: required") { () throws(WireError) in try ReadyBody(body: ["types": ["t"]]) }
        assertBadRequest("worker: longer than 256 bytes") { () throws(WireError) in
            try ReadyBody(body: ["worker": .string(String(repeating: "w", count: 257)), "types": ["t"]])
        }
        let typesMessage = "types: required, a non-empty array of job type names"
        assertBadRequest(typesMessage) { () throws(WireError) in try ReadyBody(body: ["worker": "w"]) }
        assertBadRequest(typesMessage) { () throws(WireError) in try ReadyBody(body: ["worker": "w", "types": []]) }
        assertBadRequest(typesMessage) { () throws(WireError) in try ReadyBody(body: ["worker": "w", "types": "echo"]) }
        assertBadRequest("types[1]: must be a non-empty string") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": ["a", ""]])
        }
        assertBadRequest("types[0]: must be a non-empty string") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": [1]])
        }
        assertBadRequest("types: at most 256 job types, got 257") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": .array((0...256).map { .string("t\($0)") })])
        }
        assertBadRequest("types[0]: longer than 100 bytes") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": [.string(String(repeating: "t", count: 101))]])
        }
        assertBadRequest("capacity: must be between 0 and 10000, got -1") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": ["t"], "capacity": -1])
        }
        assertBadRequest("capacity: must be between 0 and 10000, got 10001") { () throws(WireError) in
            try ReadyBody(body: ["worker": "w", "types": ["t"], "capacity": 10001])
        }
    }

    // MARK: JOB

    func testJob() throws {
        let j = JobBody(jobId: "01J.0.0", workflowId: "01J", attempt: 2, type: "echo", args: ["message": "hi"], timeoutMs: 0)
        XCTAssertEqual(JSONWriter.string(.object(j.body)),
                       #"{"args":{"message":"hi"},"attempt":2,"job_id":"01J.0.0","timeout_ms":0,"type":"echo","workflow_id":"01J"}"#)
        XCTAssertEqual(try JobBody(body: j.body), j)
        // Defaults: timeout 0, no heartbeat timeout.
        XCTAssertEqual(try JobBody(body: ["job_id": "a", "workflow_id": "w", "type": "t", "attempt": 1, "args": [:]]),
                       JobBody(jobId: "a", workflowId: "w", attempt: 1, type: "t", args: [:], timeoutMs: 0))
    }

    /// Strict as a worker reads a JOB (spec §9.6): the error names the first bad field.
    func testJobErrors() {
        let ok: [String: JSONValue] = ["job_id": "a", "workflow_id": "w", "type": "t", "attempt": 1, "args": [:]]
        func without(_ key: String) -> [String: JSONValue] { ok.filter { $0.key != key } }
        func with(_ key: String, _ value: JSONValue) -> [String: JSONValue] { ok.merging([key: value]) { $1 } }
        assertBadRequest("job_id: required") { () throws(WireError) in try JobBody(body: without("job_id")) }
        assertBadRequest("attempt: required") { () throws(WireError) in try JobBody(body: without("attempt")) }
        assertBadRequest("workflow_id: required") { () throws(WireError) in try JobBody(body: without("workflow_id")) }
        assertBadRequest("type: required") { () throws(WireError) in try JobBody(body: without("type")) }
        assertBadRequest("args: required") { () throws(WireError) in try JobBody(body: without("args")) }
        assertBadRequest("args: must be an object, got a string") { () throws(WireError) in try JobBody(body: with("args", "x")) }
        assertBadRequest("attempt: must be between 1 and 2147483647, got 0") { () throws(WireError) in
            try JobBody(body: with("attempt", 0))
        }
        assertBadRequest("timeout_ms: must be between 0 and 9223372036854775807, got -5") { () throws(WireError) in
            try JobBody(body: with("timeout_ms", -5))
        }
    }

    // MARK: RESULT

    func testResult() throws {
        let ok = ResultBody(jobId: "j", attempt: 1, ok: true, output: ["message": "hello, world"])
        XCTAssertEqual(JSONWriter.string(.object(ok.body)), #"{"attempt":1,"job_id":"j","ok":true,"output":{"message":"hello, world"}}"#)
        XCTAssertEqual(try ResultBody(body: ok.body), ok)

        let failed = ResultBody(jobId: "j", attempt: 2, ok: false, error: "boom", retryable: false)
        XCTAssertEqual(JSONWriter.string(.object(failed.body)), #"{"attempt":2,"error":"boom","job_id":"j","ok":false,"retryable":false}"#)
        XCTAssertEqual(try ResultBody(body: failed.body), failed)

        let bare = ResultBody(jobId: "j", attempt: 3, ok: false)
        XCTAssertEqual(JSONWriter.string(.object(bare.body)), #"{"attempt":3,"job_id":"j","ok":false}"#)
        XCTAssertEqual(try ResultBody(body: bare.body), bare)
        XCTAssertTrue(bare.retryable)
    }

    /// Spec §9.2: RESULT `output` "`null` = absent".
    func testResultNullOutputIsAbsentButOtherOutputsAreKept() throws {
        XCTAssertNil(try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": true, "output": nil]).output)
        XCTAssertEqual(try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": true, "output": 0]).output, 0)
        XCTAssertEqual(try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": true, "output": ["a"]]).output, ["a"])
        XCTAssertEqual(try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": true, "output": false]).output, false)
    }

    func testResultErrors() {
        assertBadRequest("job_id: required") { () throws(WireError) in try ResultBody(body: ["attempt": 1, "ok": true]) }
        assertBadRequest("attempt: required") { () throws(WireError) in try ResultBody(body: ["job_id": "j", "ok": true]) }
        assertBadRequest("attempt: required") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": nil, "ok": true])
        }
        assertBadRequest("attempt: must be between 1 and 2147483647, got 0") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": 0, "ok": true])
        }
        assertBadRequest("ok: required") { () throws(WireError) in try ResultBody(body: ["job_id": "j", "attempt": 1]) }
        assertBadRequest("ok: must be a boolean, got a number") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": 1])
        }
        assertBadRequest("error: must be a string, got an object") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": false, "error": [:]])
        }
        assertBadRequest("error: longer than 65536 bytes") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": false, "error": .string(String(repeating: "e", count: 65537))])
        }
        assertBadRequest("retryable: must be a boolean, got a string") { () throws(WireError) in
            try ResultBody(body: ["job_id": "j", "attempt": 1, "ok": false, "retryable": "no"])
        }
    }

    // MARK: CANCEL (broker → worker)

    func testCancelJob() throws {
        let c = CancelJobBody(jobId: "j", attempt: 4, code: .timeout, reason: "timed out")
        XCTAssertEqual(JSONWriter.string(.object(c.body)), #"{"attempt":4,"code":"timeout","job_id":"j","reason":"timed out"}"#)
        XCTAssertEqual(try CancelJobBody(body: c.body), c)
        let old = try CancelJobBody(body: ["job_id": "j"])  // a broker before codes
        XCTAssertEqual([old.code, old.reason], ["", ""])
        XCTAssertEqual(try CancelJobBody(body: ["job_id": "j", "code": "from_the_future"]).code, "from_the_future", "kept as sent")
        assertBadRequest("job_id: required") { () throws(WireError) in try CancelJobBody(body: ["attempt": 1]) }
        assertBadRequest("attempt: must be an integer, got a string") { () throws(WireError) in
            try CancelJobBody(body: ["job_id": "j", "attempt": "1"])
        }
        assertBadRequest("reason: must be a string, got a number") { () throws(WireError) in
            try CancelJobBody(body: ["job_id": "j", "reason": 1])
        }
    }

    func testDisconnectCarriesACodeAndAReason() {
        XCTAssertEqual(JSONWriter.string(.object(DisconnectCode.badReady.body("bad READY: capacity: ..."))),
                       #"{"code":"bad_ready","reason":"bad READY: capacity: ..."}"#)
    }
}
