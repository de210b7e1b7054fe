@testable import BatonBroker
import BatonWire
import XCTest

final class EngineTypesTests: XCTestCase {
    /// An ID reply kept as its fields is written, on the committer's thread, to the
    /// bytes `IdReply` writes, and reads as the same value: duplicate or not.
    func testAnIdReplyKeptAsItsFieldsIsWrittenAsIdReplyWritesIt() {
        for duplicate in [false, true] {
            let id = IdReply(id: "01JABCDEFGHJKMNPQRSTVWXYZ0", state: duplicate ? .running : .submitted, duplicate: duplicate)
            let reply = ClientReply(peer: [1], command: .id, tag: [7], payload: .id(id))
            guard case .encoded(let bytes) = reply.encoded.payload else { return XCTFail("not written") }
            XCTAssertEqual(bytes, id.bytes)
            XCTAssertEqual(reply.bodyBytes, id.bytes)
            XCTAssertEqual(reply.body, id.json)
            XCTAssertEqual(reply.encoded, reply)
        }
    }

    func testAJobIdTheBrokerMadeParsesBack() throws {
        for (w, b, j) in [("01JABCDEFGHJKMNPQRSTVWXYZ0", 0, 0), ("c1-0003", 12, 345), ("x", 999_999, 7)] {
            let key = JobKey(workflowId: w, block: b, job: j)
            let parsed = try XCTUnwrap(JobKey(jobId: key.jobId), key.jobId)
            XCTAssertEqual(parsed.workflowId, w)
            XCTAssertEqual(parsed.block, b)
            XCTAssertEqual(parsed.job, j)
        }
    }

    func testAJobIdIsTheWorkflowIdBlockAndJobJoinedByDots() {
        XCTAssertEqual(JobKey(workflowId: "c1-0003", block: 12, job: 345).jobId, "c1-0003.12.345")
        XCTAssertEqual(JobKey(workflowId: "wé", block: 0, job: Int.max).jobId, "wé.0.9223372036854775807")
    }

    func testAMalformedJobIdIsNotAJob() {
        for bad in ["", ".", "..", "w", "w.0", "w.0.0.0", "a.b.0.0", "w..0", "w.0.", "w.x.0", "w.0.x", "w.-1.0",
                    "w.+1.0", "w.0.-0", "w. 1.0", "w.1234567890123456789.0", "w.0.0\n"] {
            XCTAssertNil(JobKey(jobId: bad), "\"\(bad)\" parsed as a job")
        }
    }

    func testAnEmptyWorkflowIdStillParsesAsTheSplitDid() throws {
        // ".0.0" split into ["", "0", "0"]: an empty workflow id, which no workflow has.
        let key = try XCTUnwrap(JobKey(jobId: ".0.0"))
        XCTAssertEqual(key.workflowId, "")
    }

    func testNonASCIIWorkflowIdsKeepTheirBytes() throws {
        let key = try XCTUnwrap(JobKey(jobId: "wé-✓.3.4"))
        XCTAssertEqual(key.workflowId, "wé-✓")
        XCTAssertEqual(key.block, 3)
        XCTAssertEqual(key.job, 4)
    }

    /// Job keys are equal when all three parts are, the id compared by bytes (spec §3.3);
    /// equal keys hash alike, and keys differing anywhere stay apart in a set.
    func testJobKeysAreEqualExactlyWhenIdBlockAndJobAre() {
        let ids = ["01JDQ8ZK4M3V7W2XN9RTBCEFGH", "11JDQ8ZK4M3V7W2XN9RTBCEFGH", "01JDQ8ZK4M3V7W2XN9RTBCEFGJ", "x", "",
                   "01JDQ8ZK4M3V7W2XN9RTBCEFG\u{212A}", "01JDQ8ZK4M3V7W2XN9RTBCEFGK"]
        var keys: [JobKey] = []
        for id in ids { for b in 0..<2 { for j in 0..<2 { keys.append(JobKey(workflowId: id, block: b, job: j)) } } }
        for a in keys {
            for b in keys {
                let same = Array(a.workflowId.utf8) == Array(b.workflowId.utf8) && a.block == b.block && a.job == b.job
                XCTAssertEqual(a == b, same, "\(a) vs \(b)")
                if same { XCTAssertEqual(a.hashValue, b.hashValue) }
            }
        }
        XCTAssertEqual(Set(keys).count, keys.count)
        let copies = keys.map { JobKey(workflowId: String(decoding: Array($0.workflowId.utf8), as: UTF8.self), block: $0.block, job: $0.job) }
        XCTAssertEqual(Set(keys + copies).count, keys.count)
    }

    /// Raw hashes (what Dictionary and Set index by) of the jobs of one workflow, and of
    /// the first job of many, spread over a table's buckets like random numbers (4,096
    /// keys in 4,096 buckets fill ~2,590); equal keys hash alike.
    func testJobKeyRawHashesSpreadOverTheBuckets() {
        let seed = Int.random(in: .min ... .max)
        let oneWorkflow = (0..<4096).map { JobKey(workflowId: "01JDQ8ZK4M3V7W2XN9RTBCEFGH", block: $0 / 64, job: $0 % 64) }
        var rng = SystemRandomNumberGenerator()
        let manyWorkflows = (0..<4096).map { _ in JobKey(workflowId: ULID.make(ms: 1_795_867_638_123, using: &rng), block: 0, job: 0) }
        for keys in [oneWorkflow, manyWorkflows] {
            XCTAssertGreaterThan(Set(keys.map { $0._rawHashValue(seed: seed) & 4095 }).count, 2400)
            for k in keys.prefix(50) {
                let copy = JobKey(workflowId: String(decoding: Array(k.workflowId.utf8), as: UTF8.self), block: k.block, job: k.job)
                XCTAssertEqual(k._rawHashValue(seed: seed), copy._rawHashValue(seed: seed))
            }
        }
    }
}
