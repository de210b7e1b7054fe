import BatonClient
import BatonWire
import Foundation
import XCTest

/// The command line's promises against surprises, with the real binary and its output
/// redirected: nothing waits silently, nothing runs that was not asked for, and every
/// command follows one exit-code table (0 success, 1 the workflow ended unsuccessfully,
/// 2 the broker refused or could not be reached, 64 usage or input error, 130
/// interrupted).
final class CommandLineSafetyTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker()
    }

    override func tearDown() { cluster.stopAll() }

    private func workflowCount() throws -> Int {
        try cluster.client().list(ListRequest(limit: 1000)).workflows.count
    }

    func testAJobTypeNobodyServesIsNamedAndCtrlCSaysHowToReattach() throws {
        let file = try cluster.writeFile("erase.json", #"{"name": "erase", "blocks": [{"jobs": [{"type": "disk.erase", "name": "sdb"}]}]}"#)
        let run = try cluster.start(["run", file, "--journal", "j.jsonl", "--broker", cluster.clientEndpoint], log: "run.log")
        try cluster.waitFor("the run's warning") { cluster.log("run.log").contains("warning: ") }
        let out = cluster.log("run.log")
        let id = try CommandLineText.id(in: out)
        XCTAssertTrue(out.contains("warning: \(id): no progress for 3 s; jobs wait on: no worker for disk.erase\n"), out)

        let (code, status) = try cluster.baton(["status", id], log: "status.log")
        XCTAssertEqual(code, 0)
        XCTAssertTrue(status.contains("    0.0 sdb  disk.erase  PENDING  (waiting: no worker for disk.erase)\n"), status)
        let said = cluster.log("broker.log").components(separatedBy: #"no connected worker serves job type "disk.erase": 1 job(s) wait for one"#)
        XCTAssertEqual(said.count - 1, 1, "the broker logs it once:\n\(cluster.log("broker.log"))")

        kill(run.processIdentifier, SIGINT)
        run.waitUntilExit()
        XCTAssertEqual(run.terminationStatus, 130)
        XCTAssertTrue(cluster.log("run.log").hasSuffix("""

            interrupted: workflow \(id) keeps running at the broker; re-attach with `baton watch \(id)` or `baton resume --journal j.jsonl`

            """), cluster.log("run.log"))
        XCTAssertEqual(try cluster.client().status(id).state, .running, "Ctrl-C stops following, not the workflow")
    }

    func testASubmitWithoutReplyNamesTheJournalAndResumeSubmitsItOnlyWhenAsked() throws {
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
        let file = try cluster.writeFile("wf.json", #"{"name": "pending", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        let nobody = "tcp://127.0.0.1:\(try freePort())"
        let (code, out) = try cluster.batonExactly(["run", file, "--journal", "j.jsonl", "--broker", nobody, "--timeout-ms", "200", "--retries", "1"],
                                                   log: "run.log")
        XCTAssertEqual(code, 2)
        XCTAssertEqual(CommandLineText.normalised(out), """
            error: no reply from the broker at \(nobody) to SUBMIT (1 attempt(s) of <dur>); is it running there? (--broker or BATON_BROKER name it)
            no reply to SUBMIT: the broker may or may not have stored the workflow. The journal j.jsonl holds it under key <key>, not acknowledged: `baton resume --submit-pending --journal j.jsonl` submits it again with that key (the broker answers with the same ID if it stored the first); plain `baton resume` leaves it alone

            """)

        let (skipped, skippedOut) = try cluster.baton(["resume", "--journal", "j.jsonl"], log: "resume.log")
        XCTAssertEqual(skipped, 1, "not every entry is known to have succeeded")
        XCTAssertEqual(CommandLineText.normalised(skippedOut), """
            skipped wf.json (key <key>): its SUBMIT was never acknowledged, so the broker may not have it; `baton resume --submit-pending --journal j.jsonl` submits it again with the same key (the broker answers with the same ID if it stored the first)

            """)
        XCTAssertEqual(try workflowCount(), 0, "nothing was submitted")

        let (resumed, resumedOut) = try cluster.baton(["resume", "--submit-pending", "--journal", "j.jsonl"], log: "resume2.log")
        XCTAssertEqual(resumed, 0, resumedOut)
        XCTAssertTrue(resumedOut.hasPrefix("== resuming (not acknowledged: submitting again with its key) from wf.json\nsubmitted "), resumedOut)
        XCTAssertEqual(try workflowCount(), 1)

        let (missing, missingOut) = try cluster.baton(["resume", "--journal", "nope.jsonl"], log: "resume3.log")
        XCTAssertEqual(missing, 64)
        XCTAssertEqual(missingOut, "error: --journal: no journal at nope.jsonl; `baton run` writes .baton/journal.jsonl under the directory it ran in, or where --journal or BATON_JOURNAL said\n")
    }

    func testRunWithTheKeyOfAFinishedWorkflowSaysSoAndRunsNothing() throws {
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
        let file = try cluster.writeFile("wf.json", #"{"name": "keyed", "blocks": [{"jobs": [{"type": "echo"}]}]}"#)
        let (first, firstOut) = try cluster.baton(["run", file, "--key", "deploy-42", "--journal", "j.jsonl"], log: "run1.log")
        XCTAssertEqual(first, 0, firstOut)
        let id = try CommandLineText.id(in: firstOut)
        let (again, out) = try cluster.baton(["run", file, "--key", "deploy-42", "--journal", "j2.jsonl"], log: "run2.log")
        XCTAssertEqual(again, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1], "note: key deploy-42 already names workflow \(id), which finished SUCCEEDED; nothing runs again (another --key runs the workflow anew)")
        XCTAssertEqual(lines[2], "workflow \(id) \"keyed\": SUCCEEDED")
        XCTAssertFalse(out.contains("exec "), out)
        XCTAssertEqual(try workflowCount(), 1)
    }

    func testAMisspelledSpecKeyIsRefusedNamingKeyAndPathWithoutAUsageBanner() throws {
        let file = try cluster.writeFile("typo.json", #"{"name": "t", "blocks": [{"jobs": [{"type": "echo", "timeout": 5000}]}]}"#)
        let (code, out) = try cluster.baton(["submit", file], log: "submit.log")
        XCTAssertEqual(code, 64)
        XCTAssertEqual(out, #"error: typo.json: workflow.blocks[0].jobs[0].timeout: unknown key (did you mean "timeout_ms"?); a job takes type, name, args, timeout_ms, heartbeat_timeout_ms, retry"# + "\n")
        // The broker refuses it too, for clients that do not check first.
        let spec = #"{"workflow": {"name": "t", "blocks": [{"jobs": [{"type": "echo", "timeout": 5000}]}]}}"#
        let client = try cluster.client()
        defer { client.close() }
        XCTAssertThrowsError(try client.request(.submit, try JSONParser.parse(spec), expect: .id)) { error in
            guard case .remote(let e) = error as? ClientError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, .badRequest)
            XCTAssertTrue(e.message.hasPrefix("workflow.blocks[0].jobs[0].timeout: unknown key"), e.message)
        }
        let (missing, missingOut) = try cluster.baton(["run", "nope.json"], log: "run.log")
        XCTAssertEqual(missing, 64)
        XCTAssertEqual(missingOut, "error: FILE: cannot read nope.json\n")
        XCTAssertEqual(try workflowCount(), 0)
    }

    func testExitCodesAndEndpointMistakes() throws {
        let (version, versionOut) = try cluster.batonExactly(["--version"], log: "version.log")
        XCTAssertEqual(version, 0)
        XCTAssertTrue(versionOut.hasPrefix("1."), versionOut)
        let (help, helpOut) = try cluster.batonExactly(["--help"], log: "help.log")
        XCTAssertEqual(help, 0)
        for line in ["Exit codes:", "  0   success", "  1   the workflow ended unsuccessfully", "  2   the broker refused",
                     "  64  usage or input error", "  130 interrupted"] {
            XCTAssertTrue(helpOut.contains(line), "--help shows \(line):\n\(helpOut)")
        }

        let (slip, slipOut) = try cluster.batonExactly(["ping", "--broker", "127.0.0.1:5555"], log: "slip.log")
        XCTAssertEqual(slip, 64)
        XCTAssertTrue(slipOut.contains(#"--broker: "127.0.0.1:5555" is not an endpoint; endpoints look like tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555)"#), slipOut)

        let nobody = "tcp://127.0.0.1:\(try freePort())"
        let (down, downOut) = try cluster.batonExactly(["ping", "--timeout-ms", "200", "--retries", "1"], log: "down.log",
                                                       environment: ["BATON_BROKER": nobody])
        XCTAssertEqual(down, 2)
        XCTAssertEqual(downOut, "error: no reply from the broker at \(nobody) to PING (1 attempt(s) of 200 ms); is it running there? (--broker or BATON_BROKER name it)\n")
        let (up, upOut) = try cluster.batonExactly(["ping"], log: "up.log", environment: ["BATON_BROKER": cluster.clientEndpoint])
        XCTAssertEqual(up, 0)
        XCTAssertEqual(upOut, "PONG from \(cluster.clientEndpoint)\n", "BATON_BROKER stands in for --broker")

        let (bind, bindOut) = try cluster.batonExactly(["broker", "--clients", cluster.clientEndpoint, "--workers", "tcp://127.0.0.1:\(try freePort())",
                                                        "--db", "other.db"], log: "bind.log")
        XCTAssertEqual(bind, 2)
        XCTAssertTrue(bindOut.contains("error: cannot bind the client endpoint \(cluster.clientEndpoint), from --clients (config key clients): "), bindOut)
        XCTAssertFalse(bindOut.contains("Usage:"), bindOut)

        try cluster.startWorker(types: "fail", capacity: 1, name: "w1")
        let file = try cluster.writeFile("fails.json", #"{"name": "fails", "blocks": [{"jobs": [{"type": "fail", "retry": {"max_attempts": 1}}]}]}"#)
        let (failed, failedOut) = try cluster.baton(["run", file, "--journal", "j.jsonl"], log: "run.log")
        XCTAssertEqual(failed, 1, failedOut)
        let id = try CommandLineText.id(in: failedOut)
        XCTAssertEqual(try cluster.baton(["status", id], log: "status.log").0, 0, "status reports; it does not judge")
        let (expect, expectOut) = try cluster.baton(["status", id, "--expect-success"], log: "status-expect.log")
        XCTAssertEqual(expect, 1, expectOut)
        let (exec, execOut) = try cluster.baton(["exec", id], log: "exec.log")
        XCTAssertEqual(exec, 0)
        XCTAssertEqual(execOut, "\(id) FAILED\nnote: \(id) had already finished FAILED; EXEC changed nothing\n")
        let (unknown, unknownOut) = try cluster.baton(["status", "01JDQ8ZK4M3V7W2XN9RTBCEFGH"], log: "status-unknown.log")
        XCTAssertEqual(unknown, 2)
        XCTAssertEqual(unknownOut, "error: the broker refused: not_found: no workflow with id \"01JDQ8ZK4M3V7W2XN9RTBCEFGH\"\n")
    }
}
