import BatonClient
import BatonWire
import Foundation
import XCTest

/// `run` and `resume` take the handshake up from wherever a journal entry stands (spec
/// §10.1), against a ROUTER stub that answers like a broker holding one workflow.
final class BatonClientHandshakeTests: XCTestCase {
    var stub: RouterStub!
    var dir: URL!
    var journal: Journal { Journal(path: dir.appendingPathComponent("journal.jsonl").path) }

    override func setUpWithError() throws {
        stub = try RouterStub()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-handshake-\(UUID().uuidString)")
    }

    override func tearDown() {
        stub.close()
        try? FileManager.default.removeItem(at: dir)
    }

    static let spec = WorkflowSpec(name: "wf", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["x": 1])])])

    /// A broker holding the workflow `01JW` in `state`. EXEC starts it; a WATCH of a
    /// running workflow returns all its events and finds it SUCCEEDED.
    struct OneWorkflowBroker {
        var state: WorkflowState
        var submitted: [SubmitRequest] = []
        /// EXECs to refuse with `rate_limited` before one is accepted.
        var rateLimitedExecs = 0
        /// Whether an EXEC is refused with `stopped`.
        var stopHolds = false
        let id = "01JW"
        let events = [
            WorkflowEvent(seq: 1, at: 1_764_000_000_000, kind: .workflowRunning),
            WorkflowEvent(seq: 2, at: 1_764_000_000_100, kind: .jobSucceeded, fields: ["job_id": "01JW.0.0"]),
            WorkflowEvent(seq: 3, at: 1_764_000_000_200, kind: .workflowSucceeded),
        ]

        var status: JSONValue {
            WorkflowStatus(id: id, name: "wf", state: state, blocks: [], submittedAt: 1_764_000_000_000).json
        }

        mutating func answer(_ r: RouterStub.Request) throws -> (ReplyCommand, JSONValue) {
            switch r.command {
            case .submit:
                submitted.append(try SubmitRequest(body: r.body))
                return (.id, ["id": .string(id), "state": .string(state.rawValue), "duplicate": .bool(submitted.count > 1)])
            case .status:
                return (.status, status)
            case .exec:
                if stopHolds { return (.error, ["code": "stopped", "message": "emergency stop", "name": "wf", "reason": "drill"]) }
                if rateLimitedExecs > 0 {
                    rateLimitedExecs -= 1
                    return (.error, ["code": "rate_limited", "message": "limits.workflows.wf.max_running: 1 already RUNNING",
                                     "retry_after_ms": 20])
                }
                if state == .submitted || state == .stopped { state = .running }
                return (.status, status)
            case .watch:
                let after = r.body["after"]?.intValue ?? 0
                if state == .running { state = .succeeded }
                let page = events.filter { $0.seq > after }.map(\.json)
                return (.events, ["id": .string(id), "events": .array(page), "state": .string(state.rawValue)])
            default:
                return (.error, ["code": "bad_request", "message": "not in this test"])
            }
        }
    }

    /// What a handshake call did: the requests the broker saw, the steps reported, the result.
    struct Outcome<T> {
        var commands: [ClientCommand]
        var steps: [String]
        var result: T
    }

    /// Runs `body` with a client on its own thread while `broker` answers.
    private func drive<T: Sendable>(_ broker: inout OneWorkflowBroker,
                                    _ body: @escaping @Sendable (BatonClient, inout [String]) throws -> T) throws -> Outcome<T> {
        let call = ClientCall(stub.endpoint) { client -> Steps<T> in
            var steps: [String] = []
            let result = try body(client, &steps)
            return Steps(names: steps, result: result)
        }
        let seen = try stub.serve(until: call) { try broker.answer($0) }
        let done = try call.result()
        return Outcome(commands: seen.map(\.command), steps: done.names, result: done.result)
    }

    struct Steps<T: Sendable>: Sendable {
        var names: [String]
        var result: T
    }

    private func journaledSteps() throws -> [String] {
        try String(contentsOfFile: journal.path, encoding: .utf8).split(separator: "\n")
            .map { try JSONParser.parse(String($0))["step"]?.stringValue ?? "?" }
    }

    private func seed(_ entry: Journal.Entry, steps: [Journal.Step]) throws {
        for step in steps { try journal.append(entry, step: step) }
    }

    func testAnEntryWithoutIdIsSkippedUnlessSubmitPending() throws {
        let entry = Journal.Entry(key: "k-early", file: "early.json", spec: Self.spec)
        try seed(entry, steps: [.submitting])
        var broker = OneWorkflowBroker(state: .submitted)
        let j = journal
        let out = try drive(&broker) { c, steps in try c.resume(j) { steps.append(stepName($0)) } }
        XCTAssertEqual(out.commands, [], "nothing is sent for an entry the broker never acknowledged")
        XCTAssertEqual(out.result.map(\.state), [])
        XCTAssertEqual(out.steps, ["skipped k-early"])
        XCTAssertEqual(journal.unfinished(), [entry], "still there for `--submit-pending`")
    }

    func testAnEntryWithoutIdIsSubmittedAgainWithTheSameKeyWhenAsked() throws {
        // The first SUBMIT landed; the client died before journaling the id.
        let entry = Journal.Entry(key: "k-early", file: "early.json", spec: Self.spec)
        try seed(entry, steps: [.submitting])
        var broker = OneWorkflowBroker(state: .submitted)
        let j = journal
        let out = try drive(&broker) { c, steps in try c.resume(j, submitPending: true) { steps.append(stepName($0)) } }
        XCTAssertEqual(out.commands, [.submit, .status, .exec, .watch, .watch, .status])
        XCTAssertEqual(broker.submitted.map(\.idempotencyKey), ["k-early"])
        XCTAssertEqual(broker.submitted.map(\.workflow), [Self.spec])
        XCTAssertEqual(out.result.map(\.state), [.succeeded])
        XCTAssertEqual(out.steps, ["resuming", "submitting", "submitted", "executed", "following", "event 1", "event 2", "event 3", "finished"])
        XCTAssertEqual(try journaledSteps(), ["submitting", "submitting", "submitted", "exec", "finished"])
        XCTAssertEqual(journal.unfinished(), [])
    }

    func testASubmittedWorkflowIsExecuted() throws {
        try seed(Journal.Entry(key: "k", file: "f.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted])
        var broker = OneWorkflowBroker(state: .submitted)
        let j = journal
        let out = try drive(&broker) { c, _ in try c.resume(j) }
        XCTAssertEqual(out.commands, [.status, .exec, .watch, .watch, .status])
        XCTAssertEqual(out.result.map(\.state), [.succeeded])
        XCTAssertEqual(try journaledSteps(), ["submitting", "submitted", "exec", "finished"])
    }

    func testARunningWorkflowIsWatchedNotExecutedAgain() throws {
        try seed(Journal.Entry(key: "k", file: "f.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted, .exec])
        var broker = OneWorkflowBroker(state: .running)
        let j = journal
        let out = try drive(&broker) { c, steps in try c.resume(j) { steps.append(stepName($0)) } }
        XCTAssertEqual(out.commands, [.status, .watch, .watch, .status])
        XCTAssertEqual(out.steps, ["resuming", "following", "event 1", "event 2", "event 3", "finished"])
        XCTAssertEqual(out.result.map(\.state), [.succeeded])
    }

    func testAFinishedWorkflowIsReported() throws {
        try seed(Journal.Entry(key: "k", file: "f.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted, .exec])
        var broker = OneWorkflowBroker(state: .failed)
        let j = journal
        let out = try drive(&broker) { c, steps in try c.resume(j) { steps.append(stepName($0)) } }
        XCTAssertEqual(out.commands, [.status])
        XCTAssertEqual(out.steps, ["resuming", "finished"])
        XCTAssertEqual(out.result.map(\.state), [.failed])
        let lastLine = try XCTUnwrap(try String(contentsOfFile: journal.path, encoding: .utf8).split(separator: "\n").last)
        let last = try JSONParser.parse(String(lastLine))
        XCTAssertEqual(last["state"], "FAILED")
        XCTAssertEqual(journal.unfinished(), [])
    }

    func testRunJournalsEveryStepBeforeTakingTheNext() throws {
        var broker = OneWorkflowBroker(state: .submitted)
        let j = journal
        let out = try drive(&broker) { c, steps in
            try c.run(Self.spec, file: "wf.json", idempotencyKey: "k-run", journal: j) { steps.append(stepName($0)) }
        }
        XCTAssertEqual(out.commands, [.submit, .status, .exec, .watch, .watch, .status])
        XCTAssertEqual(broker.submitted.map(\.idempotencyKey), ["k-run"])
        XCTAssertEqual(out.steps, ["submitting", "submitted", "executed", "following", "event 1", "event 2", "event 3", "finished"])
        XCTAssertEqual(out.result.state, .succeeded)
        XCTAssertEqual(try journaledSteps(), ["submitting", "submitted", "exec", "finished"])
    }

    func testRunReattachesToAnUnfinishedEntryWithTheSameSpec() throws {
        try seed(Journal.Entry(key: "k-old", file: "wf.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted])
        var broker = OneWorkflowBroker(state: .submitted)
        let j = journal
        let out = try drive(&broker) { c, steps in
            try c.run(Self.spec, file: "wf.json", idempotencyKey: "k-new", journal: j) { steps.append(stepName($0)) }
        }
        XCTAssertEqual(out.commands, [.status, .exec, .watch, .watch, .status], "no second SUBMIT")
        XCTAssertEqual(out.steps.first, "reattaching 01JW")
        XCTAssertEqual(out.result.state, .succeeded)
    }

    func testWatchFollowsFromTheGivenSeqUntilFinal() throws {
        var broker = OneWorkflowBroker(state: .running)
        let out = try drive(&broker) { c, steps in
            try c.watch("01JW", after: 1) { steps.append("event \($0.seq)") }
        }
        XCTAssertEqual(out.commands, [.watch, .watch, .status])
        XCTAssertEqual(out.steps, ["event 2", "event 3"])
        XCTAssertEqual(out.result.state, .succeeded)
    }

    func testAnExecRefusedByARateLimitIsSentAgainAfterRetryAfter() throws {
        try seed(Journal.Entry(key: "k", file: "f.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted])
        var broker = OneWorkflowBroker(state: .submitted)
        broker.rateLimitedExecs = 2
        let j = journal
        let out = try drive(&broker) { c, steps in try c.resume(j) { steps.append(stepName($0)) } }
        XCTAssertEqual(out.commands, [.status, .exec, .exec, .exec, .watch, .watch, .status])
        XCTAssertEqual(out.steps.prefix(4), ["resuming", "waiting", "waiting", "executed"])
        XCTAssertEqual(out.result.map(\.state), [.succeeded])
    }

    func testAStoppedWorkflowIsExecutedAgainAndAStopStillInForceEndsTheResume() throws {
        try seed(Journal.Entry(key: "k", file: "f.json", spec: Self.spec, id: "01JW"), steps: [.submitting, .submitted, .exec])
        var held = OneWorkflowBroker(state: .stopped)
        held.stopHolds = true
        let j = journal
        XCTAssertThrowsError(try drive(&held) { c, _ in try c.resume(j) }) { error in
            guard case .remote(let e) = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .stopped)
            XCTAssertEqual(e.details["reason"], "drill")
        }
        XCTAssertEqual(journal.unfinished().count, 1, "still to be resumed")

        var lifted = OneWorkflowBroker(state: .stopped)
        let out = try drive(&lifted) { c, _ in try c.resume(j) }
        XCTAssertEqual(out.commands, [.status, .exec, .watch, .watch, .status], "EXEC continues a STOPPED workflow")
        XCTAssertEqual(out.result.map(\.state), [.succeeded])
        XCTAssertEqual(journal.unfinished(), [])
    }
}

/// A step's name, for comparing the sequence reported.
private func stepName(_ step: BatonClient.HandshakeStep) -> String {
    switch step {
    case .reattaching(let e): "reattaching \(e.id ?? "-")"
    case .resuming: "resuming"
    case .submitting: "submitting"
    case .submitted: "submitted"
    case .waiting: "waiting"
    case .executed: "executed"
    case .following: "following"
    case .event(let e): "event \(e.seq)"
    case .finished: "finished"
    case .stopped: "stopped"
    case .held(_, let reasons): "held \(reasons.joined(separator: "; "))"
    case .skipped(let e): "skipped \(e.key)"
    }
}
