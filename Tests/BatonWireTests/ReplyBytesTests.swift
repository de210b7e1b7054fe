import XCTest

@testable import BatonWire

/// Bodies the broker writes straight to bytes must be exactly the bytes of the value
/// they replace (other languages' clients and workers read them; tests compare values).
final class ReplyBytesTests: XCTestCase {
    func testIdReplyBytesAreItsValues() {
        for state in WorkflowState.allCases {
            for duplicate in [false, true] {
                for id in ["01JA", "quote \" and \\", "é"] {
                    let reply = IdReply(id: id, state: state, duplicate: duplicate)
                    XCTAssertEqual(String(decoding: reply.bytes, as: UTF8.self), String(decoding: JSONWriter.bytes(reply.json), as: UTF8.self))
                }
            }
        }
    }

    func testJobBodyBytesAreItsValues() throws {
        for heartbeat: Int64 in [0, 15_000] {
            for args: [String: JSONValue] in [[:], ["message": "hi", "n": 3, "nested": ["b": [1, nil], "a": "\n"]]] {
                let job = JobBody(jobId: "01J.0.0", workflowId: "01J", attempt: 2, type: "disk.erase", args: args,
                                  timeoutMs: 90_000, heartbeatTimeoutMs: heartbeat)
                XCTAssertEqual(String(decoding: job.bytes, as: UTF8.self), String(decoding: JSONWriter.bytes(.object(job.body)), as: UTF8.self))
                guard case .object(let read) = try JSONParser.parse(job.bytes) else { return XCTFail("not an object") }
                XCTAssertEqual(try JobBody(body: read), job, "a worker reads the same JOB")
            }
        }
    }
}
