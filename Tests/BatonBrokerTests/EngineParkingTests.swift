import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// A keyed SUBMIT whose key is not in memory waits for the store's answer (a deferred
/// read, never a read inside the turn), and its peer's later requests wait behind it.
final class EngineParkingTests: XCTestCase {
    private let now: Int64 = 1_800_000_000_000

    private func engine() -> Engine {
        Engine(config: EngineConfig(heartbeatMs: 1000, ttlMs: 60_000), random: SplitMix64(seed: 7))
    }

    private func submit(_ key: String?, tag: String, jobs n: Int = 1) -> ClientFrames.Request {
        .init(command: .submit, tag: Array(tag.utf8), body: SubmitRequest(workflow: spec([jobs(n)]), idempotencyKey: key).body.objectValue!)
    }

    private func ping(tag: String) -> ClientFrames.Request { .init(command: .ping, tag: Array(tag.utf8)) }

    private let peerA = PeerId(Array("A".utf8)), peerB = PeerId(Array("B".utf8))

    func testKeyedSubmitIsParkedUntilTheLookupAndThePeersLaterRequestsKeepTheirOrder() {
        var e = engine()
        e.handleClient(peerA, submit("k1", tag: "1"), now: now)
        e.handleClient(peerA, ping(tag: "2"), now: now)
        e.handleClient(peerA, submit(nil, tag: "3"), now: now)
        e.handleClient(peerB, ping(tag: "b"), now: now)
        let first = e.finishTurn(now: now)
        XCTAssertEqual(first.keyLookups, ["k1"], "one read of the key, asked after the commit")
        XCTAssertEqual(first.replies.map { String(decoding: $0.tag, as: UTF8.self) }, ["b"],
                       "another peer is not held up; A's requests wait behind its SUBMIT")
        XCTAssertTrue(first.writes.isEmpty)
        XCTAssertEqual(e.parkedPeers, 1)

        e.keysLookedUp([KeyLookup(key: "k1", found: .success(nil))], now: now)
        let second = e.finishTurn(now: now)
        XCTAssertEqual(second.replies.map { String(decoding: $0.tag, as: UTF8.self) }, ["1", "2", "3"])
        XCTAssertEqual(second.replies.map(\.command), [.id, .pong, .id])
        XCTAssertEqual(second.replies[0].body["duplicate"], false)
        XCTAssertEqual(second.writes.inserted.count, 2)
        XCTAssertEqual(e.parkedPeers, 0)
    }

    func testTwoPeersWithOneKeyShareOneLookupAndGetOneWorkflow() {
        var e = engine()
        e.handleClient(peerA, submit("shared", tag: "a"), now: now)
        e.handleClient(peerB, submit("shared", tag: "b"), now: now)
        XCTAssertEqual(e.finishTurn(now: now).keyLookups, ["shared"])
        e.keysLookedUp([KeyLookup(key: "shared", found: .success(nil))], now: now)
        let out = e.finishTurn(now: now)
        XCTAssertEqual(out.replies.map(\.command), [.id, .id])
        XCTAssertEqual(out.replies[0].body["id"], out.replies[1].body["id"])
        XCTAssertEqual(out.replies.map { $0.body["duplicate"] }, [false, true], "the first to ask creates it")
        XCTAssertEqual(out.writes.inserted.count, 1)
    }

    func testAStoredKeyAnswersDuplicateOrConflict() {
        var e = engine()
        let stored = WorkflowRecord(id: "01STORED", spec: spec([jobs(1)]), idempotencyKey: "k", state: .succeeded,
                                    submittedAt: now - 5000)
        e.handleClient(peerA, submit("k", tag: "same"), now: now)
        e.handleClient(peerB, submit("k", tag: "other", jobs: 2), now: now)
        _ = e.finishTurn(now: now)
        e.keysLookedUp([KeyLookup(key: "k", found: .success(stored))], now: now)
        let out = e.finishTurn(now: now)
        XCTAssertEqual(out.replies[0].command, .id)
        XCTAssertEqual(out.replies[0].body["id"], "01STORED")
        XCTAssertEqual(out.replies[0].body["state"], "SUCCEEDED")
        XCTAssertEqual(out.replies[1].command, .error)
        XCTAssertEqual(out.replies[1].body["code"], "conflict")
        XCTAssertTrue(out.writes.isEmpty)
    }

    func testAFailedLookupFailsOnlyItsSubmit() {
        var e = engine()
        e.handleClient(peerA, submit("k", tag: "1"), now: now)
        e.handleClient(peerA, ping(tag: "2"), now: now)
        _ = e.finishTurn(now: now)
        e.keysLookedUp([KeyLookup(key: "k", found: .failure(WireError(.unavailable, "disk on fire")))], now: now)
        let out = e.finishTurn(now: now)
        XCTAssertEqual(out.replies.map(\.command), [.error, .pong])
        XCTAssertEqual(out.replies[0].body["code"], "unavailable")
    }

    func testALaterRequestMayParkThePeerAgain() {
        var e = engine()
        e.handleClient(peerA, submit("k1", tag: "1"), now: now)
        e.handleClient(peerA, submit("k2", tag: "2"), now: now)
        e.handleClient(peerA, ping(tag: "3"), now: now)
        XCTAssertEqual(e.finishTurn(now: now).keyLookups, ["k1"])
        e.keysLookedUp([KeyLookup(key: "k1", found: .success(nil))], now: now)
        let mid = e.finishTurn(now: now)
        XCTAssertEqual(mid.replies.map { String(decoding: $0.tag, as: UTF8.self) }, ["1"])
        XCTAssertEqual(mid.keyLookups, ["k2"], "the second SUBMIT parks the peer again, the PING waits behind it")
        e.keysLookedUp([KeyLookup(key: "k2", found: .success(nil))], now: now)
        XCTAssertEqual(e.finishTurn(now: now).replies.map { String(decoding: $0.tag, as: UTF8.self) }, ["2", "3"])
    }

    func testTakeParkedRequestsReturnsEveryWaitingRequest() {
        var e = engine()
        e.handleClient(peerA, submit("k1", tag: "1"), now: now)
        e.handleClient(peerA, ping(tag: "2"), now: now)
        e.handleClient(peerB, submit("k1", tag: "b"), now: now)
        _ = e.finishTurn(now: now)
        let taken = e.takeParkedRequests().map { String(decoding: $0.peer.bytes + $0.tag, as: UTF8.self) }.sorted()
        XCTAssertEqual(taken, ["A1", "A2", "Bb"])
        XCTAssertEqual(e.parkedPeers, 0)
        e.keysLookedUp([KeyLookup(key: "k1", found: .success(nil))], now: now)
        XCTAssertTrue(e.finishTurn(now: now).replies.isEmpty, "a late answer for taken requests decides nothing")
    }

    func testSeededGeneratorMakesTheSameIds() {
        func ids() -> [String] {
            var e = engine()
            for i in 0..<3 { e.handleClient(peerA, submit(nil, tag: "\(i)"), now: now) }
            return e.finishTurn(now: now).replies.compactMap { $0.body["id"]?.stringValue }
        }
        XCTAssertEqual(ids().count, 3)
        XCTAssertEqual(ids(), ids())
    }

    func testHarnessAnswersLookupsThroughTheStore() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]), key: "via-store")
        XCTAssertEqual(h.lookupsAnswered, 1)
        XCTAssertEqual(h.submit(spec([jobs(1)]), key: "via-store"), id)
        XCTAssertEqual(h.lookupsAnswered, 1, "a key held in memory needs no read")
    }
}

/// With the stored keys known, a fresh key needs no read; a stored one still does.
final class EngineKeyFilterTests: XCTestCase {
    func testAFreshKeyIsDecidedAtOnceAndAStoredKeyIsReadFirst() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)]), key: "stored")
        h.exec(id)
        var filter = KeyFilter()
        filter.insert("stored")
        h.engine.knowStoredKeys(filter)
        // "stored" leaves memory once finished and committed.
        h.ready("w1", types: ["echo"], capacity: 1)
        h.drain(["w1"])
        h.advance(1)
        XCTAssertNil(h.engine.record(id))

        let before = h.lookupsAnswered
        _ = h.submit(spec([jobs(1)]), key: "fresh")
        XCTAssertEqual(h.lookupsAnswered, before, "certainly new: no store read")
        let again = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)]), idempotencyKey: "stored").body.objectValue!)
        XCTAssertEqual(h.lookupsAnswered, before + 1, "maybe stored: read")
        XCTAssertEqual(again.body["id"]?.stringValue, id)
        XCTAssertEqual(again.body["state"], "SUCCEEDED")
    }
}
