@testable import BatonBroker
import XCTest

final class EngineTypesTests: XCTestCase {
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
}
