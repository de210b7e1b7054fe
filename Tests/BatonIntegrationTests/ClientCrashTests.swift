import BatonClient
import BatonWire
import Foundation
import XCTest

/// A client that dies at any step of the handshake finds its workflows again through its
/// journal: `baton resume`, or `baton run` with the same journal.
final class ClientCrashTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
        try cluster.startWorker(types: "echo,sleep", capacity: 4, name: "w")
    }

    override func tearDown() { cluster.stopAll() }

    private func writeWorkflow(_ json: String) throws -> String {
        let file = cluster.dir.appendingPathComponent("wf-\(UUID().uuidString).json")
        try json.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    private func workflowCount() throws -> Int {
        try cluster.client().list(ListRequest(limit: 1000)).workflows.count
    }

    func testClientKilledMidRunIsResumedFromTheJournal() throws {
        let file = try writeWorkflow(#"{"name": "slow", "blocks": [{"jobs": [{"type": "sleep", "args": {"ms": 1500}}]}, {"jobs": [{"type": "echo"}]}]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        // Wait until the client has journaled EXEC, then kill it mid-watch.
        let journal = cluster.dir.appendingPathComponent("j.jsonl")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !((try? String(contentsOf: journal, encoding: .utf8))?.contains("\"exec\"") ?? false) {
            Thread.sleep(forTimeInterval: 0.02)
        }
        cluster.kill9(run)
        let (code, out) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("SUCCEEDED"), out)
        XCTAssertEqual(try workflowCount(), 1, "resume re-attached; nothing was submitted twice")
        let (again, out2) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume2.log")
        XCTAssertEqual(again, 0)
        XCTAssertTrue(out2.contains("nothing to resume"), out2)
    }

    func testAResumedRunStartsAfterTheLastEventItsJournalSaw() throws {
        let file = try writeWorkflow(#"{"name": "seen", "blocks": [\#(Array(repeating: #"{"jobs": [{"type": "sleep", "args": {"ms": 1000}}]}"#, count: 5).joined(separator: ","))]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        let journal = cluster.dir.appendingPathComponent("j.jsonl")
        try cluster.waitFor("a seen line in the journal") {
            (try? String(contentsOf: journal, encoding: .utf8))?.contains(#""step":"seen""#) ?? false
        }
        cluster.kill9(run)
        let (code, out) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertNotNil(out.range(of: #"following [0-9A-Z]{26} after event [1-9][0-9]* \(the journal's last; earlier events are not repeated\)"#,
                                  options: .regularExpression), out)
        XCTAssertFalse(out.contains("workflow.submitted"), "the events before the journal's last were not replayed:\n\(out)")
        XCTAssertTrue(out.contains("workflow.succeeded"), out)
        XCTAssertTrue(out.contains("[5/5] workflow.succeeded"), "the count is right after a seeded start:\n\(out)")
    }

    func testCrashBeforeTheIdWasJournaledResubmitsWithTheSameKey() throws {
        // The journal holds only "submitting" (the client died before or after SUBMIT,
        // before it could write the ID). The broker may or may not have the workflow.
        let spec = WorkflowSpec(name: "early", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["a": 1])])])
        let stored = try cluster.client().submit(spec, idempotencyKey: "k-early")  // the SUBMIT did land
        let line = JSONWriter.string(["step": "submitting", "key": "k-early", "file": "early.json", "spec": spec.json])
        try (line + "\n").write(to: cluster.dir.appendingPathComponent("j.jsonl"), atomically: true, encoding: .utf8)
        // Plain resume leaves an unacknowledged entry alone, and says so (no surprise runs).
        let (skipped, skippedOut) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume-skip.log")
        XCTAssertEqual(skipped, 1, skippedOut)
        XCTAssertTrue(skippedOut.contains("skipped early.json (key k-early): its SUBMIT was never acknowledged"), skippedOut)
        XCTAssertEqual(try cluster.client().status(stored.id).state, .submitted, "nothing was executed")
        let (code, out) = try cluster.baton(["resume", "--submit-pending", "--journal", "j.jsonl"], log: "resume.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains(stored.id), "the same ID came back for the same key: \(out)")
        XCTAssertEqual(try cluster.client().status(stored.id).state, .succeeded)
        XCTAssertEqual(try workflowCount(), 1)
    }

    func testRunWithTheSameJournalReattachesInsteadOfSubmittingAgain() throws {
        let file = try writeWorkflow(#"{"name": "once", "blocks": [{"jobs": [{"type": "echo", "args": {"x": 1}}]}]}"#)
        let spec = try WorkflowSpec.parse(try JSONParser.parse(String(contentsOfFile: file, encoding: .utf8)))
        // A previous `baton run` got as far as the ID, then died before EXEC.
        let submitted = try cluster.client().submit(spec, idempotencyKey: "k-once")
        let lines = [
            JSONWriter.string(["step": "submitting", "key": "k-once", "file": .string(file), "spec": spec.json]),
            JSONWriter.string(["step": "submitted", "key": "k-once", "file": .string(file), "id": .string(submitted.id)]),
        ]
        try (lines.joined(separator: "\n") + "\n{\"step\": \"exe").write(  // and a torn last line
            to: cluster.dir.appendingPathComponent("j.jsonl"), atomically: true, encoding: .utf8)
        let (code, out) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(code, 0, out)
        XCTAssertTrue(out.contains("re-attaching to \(submitted.id)"), out)
        XCTAssertEqual(try workflowCount(), 1)
        // Once finished, the same command starts a new run.
        let (code2, _) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run2.log")
        XCTAssertEqual(code2, 0)
        XCTAssertEqual(try workflowCount(), 2)
    }

    func testClientRetriesOnAFreshSocketUntilTheBrokerIsBack() throws {
        let broker = try XCTUnwrap(cluster.broker)
        cluster.kill9(broker)
        let client = try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: 300, attempts: 2)
        XCTAssertThrowsError(try client.ping()) { error in
            guard case ClientError.timeout(_, let attempts, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(attempts, 2)
        }
        // Broker comes back while a patient client is retrying.
        let patient = try BatonClient(endpoint: cluster.clientEndpoint, timeoutMs: 500, attempts: 20)
        let c: Cluster = cluster
        let restarter = Thread {
            Thread.sleep(forTimeInterval: 1.0)
            try? c.startBroker()
        }
        restarter.start()
        XCTAssertNoThrow(try patient.ping())
    }
}
