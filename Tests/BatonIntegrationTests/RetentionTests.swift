import BatonClient
import BatonWire
import Foundation
import XCTest

/// Retention through the real broker (`--retention`): finished workflows go, with their
/// idempotency keys, once the period has passed; unfinished ones stay whatever their age.
final class RetentionTests: XCTestCase {
    var cluster: Cluster!

    override func setUpWithError() throws {
        cluster = try Cluster()
        try cluster.startBroker(extra: ["--retention", "2s"])
        try cluster.startWorker(types: "echo", capacity: 2, name: "w1")
    }

    override func tearDown() { cluster.stopAll() }

    func testAFinishedWorkflowAndItsKeyAreForgottenAfterTheRetention() throws {
        let client = try BatonClient(endpoint: cluster.clientEndpoint)
        defer { client.close() }
        let spec = try WorkflowSpec.parse(JSONParser.parse(#"{"name": "kept-2s", "blocks": [{"jobs": [{"type": "echo"}]}]}"#))
        let first = try client.submit(spec, idempotencyKey: "nightly-2026-12-05")
        XCTAssertEqual(try client.exec(first.id).state, .running)
        let waiting = try client.submit(spec)  // never EXECed: SUBMITTED, not final, so kept
        try cluster.waitFor("the workflow to finish") { try client.status(first.id).state == .succeeded }
        XCTAssertEqual(try client.submit(spec, idempotencyKey: "nightly-2026-12-05").id, first.id, "within retention: the same workflow")

        try cluster.waitFor("retention to delete it", seconds: 15) {
            do {
                _ = try client.status(first.id)
                return false
            } catch let error as ClientError where error.code == .notFound {
                return true
            }
        }
        let again = try client.submit(spec, idempotencyKey: "nightly-2026-12-05")
        XCTAssertNotEqual(again.id, first.id, "the key was forgotten with its workflow: a new one")
        XCTAssertFalse(again.duplicate)
        XCTAssertEqual(try client.status(waiting.id).state, .submitted, "an unfinished workflow is never deleted")
        XCTAssertEqual(try client.stats()["counters"]?["deleted"], 1)
        XCTAssertTrue(cluster.log("broker.log").contains("retention: finished workflows are kept for 2s"), cluster.log("broker.log"))
    }
}
