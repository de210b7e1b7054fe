import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// A dispatch's JOB, written with the job's id from its parts, is the `JobBody` a worker
/// reads: the same bytes as the typed body's, and as its dictionary's.
final class JobDispatchTests: XCTestCase {
    func testADispatchsBytesAreItsJobBodys() throws {
        for heartbeat: Int64 in [0, 15_000] {
            for args: [String: JSONValue] in [[:], ["message": "hi", "n": 3, "nested": ["b": [1, nil], "a": "\n"]]] {
                for (block, job) in [(0, 0), (3, 10_499), (12, 7)] {
                    let spec = JobSpec(type: "disk.erase", name: "erase", args: args, timeoutMs: 90_000,
                                       retry: RetryPolicy(maxAttempts: 3, backoffMs: 100), heartbeatTimeoutMs: heartbeat)
                    let dispatch = JobDispatch(workflowId: "01JDQ8ZK4M3V7W2XN9RTBCEFGH", block: block, job: job, attempt: 2, spec: spec)
                    let body = dispatch.body
                    XCTAssertEqual(body.jobId, "01JDQ8ZK4M3V7W2XN9RTBCEFGH.\(block).\(job)")
                    XCTAssertEqual(String(decoding: dispatch.bytes, as: UTF8.self), String(decoding: body.bytes, as: UTF8.self))
                    XCTAssertEqual(dispatch.bytes, JSONWriter.bytes(.object(body.body)))
                    guard case .object(let read) = try JSONParser.parse(dispatch.bytes) else { return XCTFail("not an object") }
                    XCTAssertEqual(try JobBody(body: read), body, "a worker reads the same JOB")
                }
            }
        }
    }

    /// The frames a dispatch sends are the ones its typed body would.
    func testADispatchIsSentAsItsJobBodyWouldBe() {
        let spec = JobSpec(type: "echo", args: ["k": "v"], timeoutMs: 0, retry: .standard, heartbeatTimeoutMs: 0)
        let dispatch = JobDispatch(workflowId: "01JDQ8ZK4M3V7W2XN9RTBCEFGH", block: 1, job: 2, attempt: 1, spec: spec)
        let peer: PeerId = [0, 1, 2, 3, 4]
        let sent = WorkerSend(peer: peer, dispatch: dispatch), typed = WorkerSend(peer: peer, job: dispatch.body)
        XCTAssertEqual(sent.routedFrames, typed.routedFrames)
        XCTAssertEqual(sent, typed)
    }
}
