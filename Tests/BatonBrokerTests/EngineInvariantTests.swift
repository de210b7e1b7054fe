import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// What a release build does when the engine finds a state its rules make impossible:
/// log it, count it, and take the documented fallback instead of crashing the broker.
/// (Debug builds stop at `assertionFailure`; these tests turn that off.)
final class EngineInvariantTests: XCTestCase {
    private func harness() throws -> EngineHarness {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.trapOnBrokenInvariant = false
        return try EngineHarness(config: config)
    }

    func testLostBlockProgressFailsTheWorkflowLoudlyInsteadOfHangingIt() throws {
        let h = try harness()
        h.ready("w1", types: ["echo"], capacity: 4)
        let id = h.submit(spec([jobs(2)]))
        h.exec(id)
        let sent = h.takeJobs("w1")
        XCTAssertEqual(sent.count, 1)
        h.engine.progress[id] = nil  // the impossible state
        h.result("w1", sent[0])
        XCTAssertEqual(h.engine.brokenInvariants, 1)
        XCTAssertTrue(h.notes.contains { $0.level == .error && $0.text.contains("no block progress") })
        let s = h.status(id)
        XCTAssertEqual(s.state, .failed)
        XCTAssertEqual(s.reason, "internal error: lost track of block 0")
        XCTAssertEqual(s.blocks[0].jobs.map(\.state), [.succeeded, .cancelled])
        XCTAssertEqual(try h.store.workflow(id: id)?.state, .failed, "the fallback is stored like any outcome")
    }

    func testTheDefaultTrapsInDebugBuilds() {
        #if DEBUG
        XCTAssertTrue(EngineConfig().trapOnBrokenInvariant)
        #else
        XCTAssertFalse(EngineConfig().trapOnBrokenInvariant)
        #endif
    }
}
