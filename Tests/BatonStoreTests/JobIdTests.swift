import BatonStore
import XCTest

/// Job ids are `<workflow_id>.<block index>.<job index>` (spec §3.3): the hand-written builder must
/// give exactly what interpolation gives.
final class JobIdTests: XCTestCase {
    func testJobIdsAreTheWorkflowIdBlockAndIndex() {
        let numbers = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10_000, 123_456, Int(Int32.max), Int.max]
        for workflowId in ["01JABCDEFGHJKMNPQRSTVWXYZ0", "", "é-id"] {
            for block in numbers {
                for job in numbers {
                    XCTAssertEqual(WorkflowRecord.jobId(workflowId, block: block, job: job), "\(workflowId).\(block).\(job)")
                }
            }
        }
    }
}
