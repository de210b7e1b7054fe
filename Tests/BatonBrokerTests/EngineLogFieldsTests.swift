import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// The audit lines carry what they name as fields (`LogNote.fields`), which the JSON log
/// format writes as fields of their own: `workflow_id` on a workflow's submitted,
/// executed and finished lines, `worker` on a worker's joined, draining and left lines.
final class EngineLogFieldsTests: XCTestCase {
    func testAuditLinesCarryTheWorkflowAndTheWorker() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([jobs(1)]))
        h.exec(id)
        h.drain(["w1"])
        h.ready("w1", types: ["echo"], capacity: 0)
        h.turn { $0.handleWorker(PeerId(Array("w1".utf8)), .init(.disconnect), now: h.now) }

        func fields(of prefix: String) -> [String: String]? { h.notes.first { $0.text.hasPrefix(prefix) }?.fields }
        XCTAssertEqual(fields(of: "workflow \(id) submitted"), ["workflow_id": id])
        XCTAssertEqual(fields(of: "workflow \(id) executed"), ["workflow_id": id])
        XCTAssertEqual(fields(of: "workflow \(id) finished SUCCEEDED"), ["workflow_id": id])
        XCTAssertEqual(fields(of: "worker w1 joined"), ["worker": "w1"])
        XCTAssertEqual(fields(of: "worker w1 draining"), ["worker": "w1"])
        XCTAssertEqual(fields(of: "worker w1 left"), ["worker": "w1"])
    }

    /// A broker logging warnings and errors only makes no info notes at all (they cost
    /// text and a field dictionary each), and still every warning.
    func testNoInfoNotesWhenTheLogShowsWarningsOnly() throws {
        var config = EngineConfig(heartbeatMs: 1000, ttlMs: 60_000)
        config.notesInfo = false
        let h = try EngineHarness(config: config)
        h.ready("w1", types: ["echo"], capacity: 1)
        h.exec(h.submit(spec([jobs(1)])))
        h.drain(["w1"])
        h.exec(h.submit(spec([jobs(1, type: "nobody.serves")])))
        XCTAssertEqual(h.notes.filter { $0.level == .info }.map(\.text), [])
        XCTAssertTrue(h.notes.contains { $0.level == .warning && $0.text.contains("nobody.serves") }, "\(h.notes.map(\.text))")
    }
}
