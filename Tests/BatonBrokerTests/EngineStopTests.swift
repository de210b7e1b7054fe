import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// The emergency stop on plain values: STOP, RESUME, EXEC after it, CANCEL, restarts.
final class EngineStopTests: XCTestCase {
    private func stop(_ h: EngineHarness, _ name: String, reason: String = "runaway tool") -> ClientReply {
        h.request(.stop, StopRequest(name: name, reason: reason).body.objectValue!)
    }

    private func resume(_ h: EngineHarness, _ name: String) -> ClientReply {
        h.request(.resume, ResumeRequest(name: name).body.objectValue!)
    }

    func testStopParksFiftyRunningWorkflowsInOneTurnAndCancelsTheirAttempts() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["sleep"], capacity: 100)
        let erases = (0..<50).map { _ in h.submit(spec([jobs(1, type: "sleep")], name: "erase")) }
        let other = h.submit(spec([jobs(1, type: "sleep")], name: "other"))
        for id in erases + [other] { h.exec(id) }
        XCTAssertEqual(h.takeJobs("w1").count, 51)

        let r = stop(h, "erase")
        XCTAssertEqual(r.command, .ok)
        XCTAssertEqual(r.body["name"], "erase")
        XCTAssertEqual(r.body["stopped"], 50)
        let cancels = h.sent("w1", .cancel)
        XCTAssertEqual(cancels.count, 50, "every running attempt of the stopped name gets CANCEL")
        XCTAssertTrue(cancels.allSatisfy { $0["reason"] == "workflow stopped" })
        for id in erases {
            let s = h.status(id)
            XCTAssertEqual(s.state, .stopped)
            XCTAssertEqual(s.reason, "stopped: runaway tool")
            XCTAssertEqual(s.blocks[0].jobs[0].state, .pending)
            XCTAssertEqual(s.blocks[0].jobs[0].attempt, 1)
        }
        XCTAssertEqual(h.status(other).state, .running, "other names run on")
        XCTAssertEqual(try h.store.workflow(id: erases[0])?.state, .stopped, "stored with the reply")
        XCTAssertEqual(try h.store.loadStops()["erase"]?.reason, "runaway tool")
        let kinds = try h.store.events(workflowId: erases[0], after: 0, limit: 100).map(\.kind)
        XCTAssertEqual(Array(kinds.suffix(2)), [.jobStopped, .workflowStopped])
    }

    func testAStoppedNameRefusesSubmitAndExecWithNameAndReason() throws {
        let h = try EngineHarness()
        let waiting = h.submit(spec([jobs(1)], name: "erase"))
        _ = stop(h, "erase", reason: "bad rollout")
        let submit = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "erase")).body.objectValue!)
        XCTAssertEqual(submit.body["code"], "stopped")
        XCTAssertEqual(submit.body["name"], "erase")
        XCTAssertEqual(submit.body["reason"], "bad rollout")
        let exec = h.exec(waiting)
        XCTAssertEqual(exec.body["code"], "stopped")
        XCTAssertEqual(h.status(waiting).state, .submitted, "SUBMITTED stays SUBMITTED")
        XCTAssertEqual(h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "other")).body.objectValue!).command, .id)

        _ = stop(h, "*", reason: "freeze")
        let everything = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "other")).body.objectValue!)
        XCTAssertEqual(everything.body["code"], "stopped")
        XCTAssertEqual(everything.body["name"], "*")
        XCTAssertEqual(resume(h, "*").command, .ok)
        XCTAssertEqual(h.exec(waiting).body["code"], "stopped", "RESUME * does not lift the stop of one name")
        _ = resume(h, "erase")
        XCTAssertEqual(h.exec(waiting).body["state"], "RUNNING")
    }

    func testExecAfterResumeContinuesWhereItStoppedAndAStoppedAttemptDoesNotCount() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let once = RetryPolicy(maxAttempts: 1, backoffMs: 0)
        let id = h.submit(spec([jobs(2, retry: once), jobs(1, retry: once)], name: "erase"))
        h.exec(id)
        let first = h.takeJobs("w1")
        h.result("w1", first[0])
        let second = h.takeJobs("w1")
        XCTAssertEqual(second.map(\.jobId), ["\(id).0.1"])

        _ = stop(h, "erase")
        h.result("w1", second[0])  // late RESULT of the stopped attempt: fenced off
        XCTAssertEqual(h.status(id).blocks[0].jobs[1].state, .pending)
        XCTAssertEqual(h.exec(id).body["code"], "stopped")
        _ = resume(h, "erase")
        XCTAssertEqual(h.status(id).state, .stopped, "RESUME starts nothing")

        XCTAssertEqual(h.exec(id).body["state"], "RUNNING")
        let again = h.takeJobs("w1")
        XCTAssertEqual(again.map(\.jobId), ["\(id).0.1"], "the SUCCEEDED job does not run again")
        XCTAssertEqual(again.map(\.attempt), [2], "max_attempts 1, yet attempt 2: the stopped one did not count")
        h.drain(["w1"], alreadyTaken: again.map { ("w1", $0) })
        let s = h.status(id)
        XCTAssertEqual(s.state, .succeeded)
        XCTAssertEqual(s.blocks.flatMap(\.jobs).map(\.attempt), [1, 2, 1])
        XCTAssertEqual(try h.store.workflow(id: id)?.jobs[0][1].stoppedAttempts, 1)
    }

    func testCancelEndsAStoppedWorkflow() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(1)], name: "erase"))
        h.exec(id)
        _ = stop(h, "erase")
        let r = h.request(.cancel, ["id": .string(id)])
        XCTAssertEqual(r.body["state"], "CANCELLED")
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .cancelled)
    }

    func testStopsAndStoppedWorkflowsSurviveARestart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-stop-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("b.db").path
        var id = ""
        do {
            let h = try EngineHarness(store: try Store(path: path))
            h.ready("w1", types: ["echo"], capacity: 1)
            id = h.submit(spec([jobs(1)], name: "erase"))
            h.exec(id)
            _ = stop(h, "erase", reason: "incident 42")
        }
        let h = try EngineHarness(store: try Store(path: path))
        XCTAssertEqual(h.engine.record(id)?.state, .stopped, "a STOPPED workflow is held in memory after a restart")
        let refused = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "erase")).body.objectValue!)
        XCTAssertEqual(refused.body["reason"], "incident 42")
        _ = resume(h, "erase")
        h.ready("w2", types: ["echo"], capacity: 1)
        XCTAssertEqual(h.exec(id).body["state"], "RUNNING")
        h.drain(["w2"])
        XCTAssertEqual(h.status(id).state, .succeeded)
        XCTAssertNil(try h.store.loadStops()["erase"], "the lift is stored too")
    }

    func testBadStopAndResumeBodiesAreBadRequests() throws {
        let h = try EngineHarness()
        XCTAssertEqual(h.request(.stop, ["name": "x"]).body["code"], "bad_request", "reason is required")
        XCTAssertEqual(h.request(.stop, ["name": "", "reason": "r"]).body["code"], "bad_request")
        XCTAssertEqual(h.request(.resume, [:]).body["code"], "bad_request")
        XCTAssertEqual(resume(h, "never-stopped").command, .ok, "RESUME is idempotent")
    }
}

/// Stops from the emergency stop file: applied like STOP, not stored, not lifted by RESUME.
final class EngineFileStopTests: XCTestCase {
    func testAFileStopStopsRunningWorkflowsAndOnlyTheFileLiftsIt() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let erase = h.submit(spec([jobs(1)], name: "erase"))
        let other = h.submit(spec([jobs(1)], name: "other"))
        h.exec(erase)
        h.exec(other)
        h.turn { $0.useFileStops(["erase": StopRecord(reason: "es.yaml says erase: stop", at: h.now)], now: h.now) }
        XCTAssertEqual(h.status(erase).state, .stopped)
        XCTAssertEqual(h.status(erase).reason, "stopped: es.yaml says erase: stop")
        XCTAssertEqual(h.status(other).state, .running)
        XCTAssertEqual(h.sent("w1", .cancel).count, 1)
        XCTAssertEqual(try h.store.loadStops(), [:], "the file is the truth for its stops: nothing stored")

        let resume = h.request(.resume, ResumeRequest(name: "erase").body.objectValue!)
        XCTAssertEqual(resume.body["still_stopped_by"], "emergency_stop_file")
        XCTAssertEqual(h.exec(erase).body["code"], "stopped")

        h.turn { $0.useFileStops([:], now: h.now) }  // the file now says go
        XCTAssertEqual(h.exec(erase).body["state"], "RUNNING")
    }

    func testAnUnreadableFileStopsEverything() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(1)], name: "anything"))
        h.exec(id)
        h.turn { $0.useFileStops(["*": StopRecord(reason: "es.yaml is unreadable", at: h.now)], now: h.now) }
        XCTAssertEqual(h.status(id).state, .stopped)
        let r = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "new")).body.objectValue!)
        XCTAssertEqual(r.body["code"], "stopped")
        XCTAssertEqual(r.body["name"], "*")
    }
}
