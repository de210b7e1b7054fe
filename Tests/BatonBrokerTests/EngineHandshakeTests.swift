import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// SUBMIT -> ID -> EXEC, idempotency, expiry, STATUS/WATCH/CANCEL/LIST on plain values.
final class EngineHandshakeTests: XCTestCase {
    func testSubmitStoresAndRunsNothing() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(2)]))
        XCTAssertEqual(try h.store.workflow(id: id)?.state, .submitted, "stored before the reply")
        XCTAssertEqual(h.takeJobs("w1").count, 0, "nothing runs on SUBMIT")
        XCTAssertEqual(h.status(id).state, .submitted)
    }

    func testExecStartsAndDispatches() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(2)], concurrency: 2))
        let r = h.exec(id)
        XCTAssertEqual(r.command, .status)
        XCTAssertEqual(r.body["state"], "RUNNING")
        XCTAssertEqual(try h.store.workflow(id: id)?.state, .running)
        let sent = h.takeJobs("w1")
        XCTAssertEqual(sent.map(\.attempt), [1, 1])
        XCTAssertEqual(sent.map(\.workflowId), [id, id])
        h.drain(["w1"], alreadyTaken: sent.map { ("w1", $0) })
        let s = h.status(id)
        XCTAssertEqual(s.state, .succeeded)
        XCTAssertEqual(s.blocks[0].jobs[0].output, ["n": 0])
        XCTAssertNotNil(s.finishedAt)
    }

    func testExecIsIdempotent() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        let sent = h.takeJobs("w1")
        XCTAssertEqual(sent.count, 1)
        let again = h.exec(id)
        XCTAssertEqual(again.body["state"], "RUNNING")
        XCTAssertEqual(h.takeJobs("w1").count, 0, "a second EXEC starts nothing")
        h.result("w1", sent[0])
        h.advance(1)  // next turn: the finished workflow leaves memory, reads go to the store
        let done = h.exec(id)
        XCTAssertEqual(done.body["state"], "SUCCEEDED")
    }

    func testExecUnknownIdIsNotFound() throws {
        let h = try EngineHarness()
        let r = h.exec("nope")
        XCTAssertEqual(r.command, .error)
        XCTAssertEqual(r.body["code"], "not_found")
        XCTAssertEqual(h.request(.status, ["id": "nope"]).body["code"], "not_found")
        XCTAssertEqual(h.request(.watch, ["id": "nope"]).body["code"], "not_found")
        XCTAssertEqual(h.request(.cancel, ["id": "nope"]).body["code"], "not_found")
    }

    func testIdempotencyKeySameSpecReturnsSameId() throws {
        let h = try EngineHarness()
        let s = spec([jobs(1)])
        let id = h.submit(s, key: "k1")
        let r = h.request(.submit, SubmitRequest(workflow: s, idempotencyKey: "k1").body.objectValue!)
        XCTAssertEqual(r.body["id"]?.stringValue, id)
        XCTAssertEqual(r.body["duplicate"], true)
        XCTAssertEqual(r.body["state"], "SUBMITTED")
    }

    func testIdempotencyKeyDifferentSpecConflicts() throws {
        let h = try EngineHarness()
        _ = h.submit(spec([jobs(1)]), key: "k1")
        let r = h.request(.submit, SubmitRequest(workflow: spec([jobs(2)]), idempotencyKey: "k1").body.objectValue!)
        XCTAssertEqual(r.command, .error)
        XCTAssertEqual(r.body["code"], "conflict")
    }

    func testIdempotencyKeyOfFinishedWorkflowComesFromStore() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let s = spec([jobs(1)])
        let id = h.submit(s, key: "k2")
        h.exec(id)
        h.drain(["w1"])
        h.advance(1)
        h.advance(1)
        XCTAssertNil(h.engine.record(id), "finished workflows leave memory once committed")
        let r = h.request(.submit, SubmitRequest(workflow: s, idempotencyKey: "k2").body.objectValue!)
        XCTAssertEqual(r.body["id"]?.stringValue, id)
        XCTAssertEqual(r.body["state"], "SUCCEEDED")
        XCTAssertEqual(r.body["duplicate"], true)
    }

    func testSameKeyTwiceInOneTurnGivesOneWorkflow() throws {
        let h = try EngineHarness()
        let body = SubmitRequest(workflow: spec([jobs(1)]), idempotencyKey: "k3").body.objectValue!
        let replies = h.turn { e in
            e.handleClient(PeerId(Array("a".utf8)), .init(command: .submit, body: body), now: h.now)
            e.handleClient(PeerId(Array("b".utf8)), .init(command: .submit, body: body), now: h.now)
        }
        XCTAssertEqual(replies.count, 2)
        XCTAssertEqual(replies[0].body["id"], replies[1].body["id"])
        XCTAssertEqual(replies[1].body["duplicate"], true)
        XCTAssertEqual(try h.store.list(ListRequest()).workflows.count, 1)
    }

    func testSubmittedWorkflowExpiresAfterTTL() throws {
        let h = try EngineHarness(config: EngineConfig(heartbeatMs: 1000, ttlMs: 10_000))
        let id = h.submit(spec([jobs(1)]))
        h.advance(9_999)
        XCTAssertEqual(h.status(id).state, .submitted)
        h.advance(1)
        XCTAssertEqual(h.status(id).state, .expired)
        XCTAssertEqual(try h.store.workflow(id: id)?.state, .expired)
        XCTAssertEqual(h.exec(id).body["state"], "EXPIRED", "EXEC on an expired workflow starts nothing")
    }

    func testExecutedWorkflowDoesNotExpire() throws {
        let h = try EngineHarness(config: EngineConfig(heartbeatMs: 1000, ttlMs: 10_000))
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        h.advance(20_000)
        XCTAssertEqual(h.status(id).state, .running, "waits for a worker, never expires")
    }

    func testCancelEndsWorkflowAndTellsWorkers() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(3)]))
        h.exec(id)
        let job = h.takeJobs("w1")[0]
        let r = h.request(.cancel, ["id": .string(id)])
        XCTAssertEqual(r.body["state"], "CANCELLED")
        XCTAssertEqual(h.sent("w1", .cancel).first?["job_id"]?.stringValue, job.jobId)
        let s = h.status(id)
        XCTAssertEqual(s.blocks[0].jobs.map(\.state), [.cancelled, .cancelled, .cancelled])
        h.result("w1", job)  // late result is fenced off
        XCTAssertEqual(h.status(id).blocks[0].jobs[0].state, .cancelled)
        XCTAssertEqual(h.takeJobs("w1").count, 0)
    }

    func testPing() throws {
        let h = try EngineHarness()
        XCTAssertEqual(h.request(.ping, [:]).command, .pong)
    }

    func testBadBodiesAreBadRequests() throws {
        let h = try EngineHarness()
        let r = h.request(.submit, ["workflow": ["name": "x", "blocks": []]])
        XCTAssertEqual(r.body["code"], "bad_request")
        XCTAssertEqual(r.body["message"], "workflow.blocks: must hold at least one block")
        XCTAssertEqual(h.request(.exec, [:]).body["message"], "id: required")
        XCTAssertEqual(h.request(.watch, ["id": "x", "wait_ms": -1]).body["code"], "bad_request")
    }

    func testWatchReturnsEventsInOrderAndLongPolls() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1)]))
        let first = h.request(.watch, ["id": .string(id), "after": 0])
        XCTAssertEqual(first.command, .events)
        let events = first.body["events"]!.arrayValue!
        XCTAssertEqual(events.map { $0["kind"]!.stringValue! }, ["workflow.submitted"])
        XCTAssertEqual(events[0]["seq"], 1)
        // A long-poll with nothing new parks until the next event.
        let parked = h.turn { $0.handleClient(PeerId(Array("watcher".utf8)), .init(command: .watch, tag: [7], body: ["id": .string(id), "after": 1, "wait_ms": 5000]), now: h.now) }
        XCTAssertTrue(parked.isEmpty, "no reply while nothing happened")
        let woke = h.turn { $0.handleClient(PeerId(Array("c".utf8)), .init(command: .exec, body: ["id": .string(id)]), now: h.now) }
        let page = woke.first { $0.peer == PeerId(Array("watcher".utf8)) }
        XCTAssertEqual(page?.tag, [7])
        let kinds = page?.body["events"]?.arrayValue?.map { $0["kind"]!.stringValue! }
        XCTAssertEqual(kinds?.first, "workflow.running")
        XCTAssertEqual(page?.body["events"]?.arrayValue?.first?["seq"], 2)
    }

    func testWatchTimesOutEmpty() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]))
        let parked = h.turn { $0.handleClient(PeerId(Array("w".utf8)), .init(command: .watch, body: ["id": .string(id), "after": 1, "wait_ms": 2000]), now: h.now) }
        XCTAssertTrue(parked.isEmpty)
        XCTAssertTrue(h.advance(1999).isEmpty)
        let r = h.advance(1)
        XCTAssertEqual(r.count, 1)
        XCTAssertEqual(r[0].body["events"], [])
        XCTAssertEqual(r[0].body["state"], "SUBMITTED")
    }

    func testWatchOnFinishedWorkflowAnswersAtOnce() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]))
        _ = h.request(.cancel, ["id": .string(id)])
        let last = try h.store.workflow(id: id)!.lastEvent
        let r = h.request(.watch, ["id": .string(id), "after": .int(last), "wait_ms": 60_000])
        XCTAssertEqual(r.body["events"], [])
        XCTAssertEqual(r.body["state"], "CANCELLED")
    }

    func testListNewestFirstWithFilter() throws {
        let h = try EngineHarness()
        let a = h.submit(spec([jobs(1)], name: "alpha"))
        let b = h.submit(spec([jobs(1)], name: "beta"))
        let r = h.request(.list, [:])
        XCTAssertEqual(r.body["workflows"]?.arrayValue?.map { $0["id"]!.stringValue! }, [b, a])
        let f = h.request(.list, ["name": "alpha"])
        XCTAssertEqual(f.body["workflows"]?.arrayValue?.map { $0["id"]!.stringValue! }, [a])
    }
}

/// Long-polls a peer controls are bounded: parked per connection, and answered across
/// turns when many come due at once.
final class EngineWatchBoundsTests: XCTestCase {
    func testAConnectionParksAtMostItsCapAndTheRestAreAnsweredAtOnce() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.maxParkedWatchesPerPeer = 3
        config.maxWatchAnswersPerTurn = 2
        let h = try EngineHarness(config: config)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        let after = h.engine.record(id)!.lastEvent
        let body: [String: JSONValue] = ["id": .string(id), "after": .int(after), "wait_ms": 30_000]
        var answered: [ClientReply] = []
        for i in 0..<5 {
            answered += h.turn { $0.handleClient(PeerId(Array("p".utf8)), .init(command: .watch, tag: Array("w\(i)".utf8), body: body), now: h.now) }
        }
        XCTAssertEqual(answered.map { String(decoding: $0.tag, as: UTF8.self) }, ["w3", "w4"], "over the cap: answered at once")
        XCTAssertEqual(answered.map { $0.body["events"] }, [[], []])

        // An event (the job's dispatch) wakes the three parked ones: two this turn, one the next.
        let ready = ReadyBody(worker: "w1", types: ["echo"], capacity: 1).body
        var woken = h.turn { $0.handleWorker(PeerId(Array("w1".utf8)), .init(.ready, ready), now: h.now) }
        XCTAssertEqual(woken.count, 2)
        XCTAssertEqual(h.engine.nextDeadline(), 0, "the rest is due at once")
        woken += h.turn { _ in }
        XCTAssertEqual(Set(woken.map { String(decoding: $0.tag, as: UTF8.self) }), ["w0", "w1", "w2"])
        XCTAssertTrue(woken.allSatisfy { !($0.body["events"]?.arrayValue ?? []).isEmpty })
        XCTAssertEqual(h.engine.parkedWatches[PeerId(Array("p".utf8))], nil, "all unparked: the cap is free again")
    }
}
