import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// SUBMITTED workflows restored by id only (`DormantWorkflow`): every command still
/// works on them, loading them from the store when it must change them.
final class EngineDormantTests: XCTestCase {
    let alice = Caller(name: "alice", isAdmin: false)
    let bob = Caller(name: "bob", isAdmin: false)

    /// A store with `n` SUBMITTED workflows of alice, and an engine restarted over it.
    private func restarted(_ n: Int, config: EngineConfig = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000))
        throws -> (EngineHarness, [String]) {
        let first = try EngineHarness(config: config)
        let ids = (0..<n).map { _ in first.submit(spec([jobs(1)]), key: nil, as: alice) }
        let h = try EngineHarness(config: config, store: first.store, dormantSubmitted: true)
        h.now = first.now
        XCTAssertTrue(h.engine.workflows.isEmpty, "nothing SUBMITTED is held whole after the restart")
        XCTAssertEqual(h.engine.dormant.count, n)
        return (h, ids)
    }

    func testExecOfADormantWorkflowLoadsItAndRunsIt() throws {
        let (h, ids) = try restarted(2)
        h.ready("w1", types: ["echo"], capacity: 10)
        XCTAssertEqual(h.request(.status, ["id": .string(ids[0])], as: alice).body["state"], "SUBMITTED", "STATUS reads the store")
        XCTAssertEqual(h.request(.exec, ["id": .string(ids[0])], as: bob).body["code"], "not_found", "the owner is checked without a load")
        XCTAssertEqual(h.lookupsAnswered, 0)
        let r = h.request(.exec, ["id": .string(ids[0])], as: alice)
        XCTAssertEqual(r.command, .status)
        XCTAssertEqual(r.body["state"], "RUNNING")
        XCTAssertNil(h.engine.dormant[ids[0]])
        h.drain(["w1"])
        XCTAssertEqual(h.status(ids[0]).state, .succeeded)
        XCTAssertEqual(h.request(.cancel, ["id": .string(ids[1])], as: alice).body["state"], "CANCELLED")
    }

    func testRequestsBehindALoadAreDecidedInOrder() throws {
        let (h, ids) = try restarted(1)
        let peer = PeerId(Array("client".utf8))
        let replies = h.turn { e in
            e.handleClient(peer, .init(command: .exec, tag: Array("1".utf8), body: ["id": .string(ids[0])]), as: alice, now: h.now)
            e.handleClient(peer, .init(command: .cancel, tag: Array("2".utf8), body: ["id": .string(ids[0])]), as: alice, now: h.now)
        }
        XCTAssertEqual(replies.map { String(decoding: $0.tag, as: UTF8.self) }, ["1", "2"])
        XCTAssertEqual(replies.map { $0.body["state"] }, ["RUNNING", "CANCELLED"])
    }

    func testADormantWorkflowExpiresAndItsQuotaIsCounted() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.maxSubmittedPerOwner = 2
        let (h, ids) = try restarted(2, config: config)
        XCTAssertEqual(h.request(.submit, SubmitRequest(workflow: spec([jobs(1)])).body.objectValue!, as: alice).body["code"],
                       "rate_limited", "dormant workflows count toward the quota")
        _ = h.advance(60_001)
        _ = h.advance(1)
        XCTAssertEqual(try h.store.workflow(id: ids[0])?.state, .expired)
        XCTAssertEqual(try h.store.workflow(id: ids[1])?.state, .expired)
        XCTAssertTrue(h.engine.dormant.isEmpty)
        XCTAssertFalse(h.submit(spec([jobs(1)]), as: alice).isEmpty, "expiry freed the quota")
    }
}
