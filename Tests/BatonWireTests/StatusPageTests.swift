import BatonWire
import XCTest

/// STATUS paging (spec §4.3.3): pages by the jobs' JSON bytes, every block on every page,
/// and the pages put back together give the whole workflow.
final class StatusPageTests: XCTestCase {
    /// Three blocks of 2, 3 and 1 jobs; job `k` (spec order) outputs a string of
    /// `sizes[k]` bytes.
    private func status(sizes: [Int]) -> WorkflowStatus {
        var k = 0
        let blocks = [2, 3, 1].enumerated().map { b, count in
            WorkflowStatus.Block(state: .succeeded, jobs: (0..<count).map { j in
                defer { k += 1 }
                return .init(jobId: "01J.\(b).\(j)", type: "echo", state: .succeeded, attempt: 1,
                             output: .string(String(repeating: "x", count: sizes[k])))
            })
        }
        return WorkflowStatus(id: "01J", name: "big", state: .succeeded, blocks: blocks, submittedAt: 1_795_867_638_123)
    }

    private func jobIds(_ s: WorkflowStatus) -> [[String]] { s.blocks.map { $0.jobs.map(\.jobId) } }

    /// The bytes job `k` of `status(sizes:)` takes in a page.
    private func bytes(_ s: WorkflowStatus, _ b: Int, _ j: Int) -> Int { JSONWriter.bytes(s.blocks[b].jobs[j].json).count }

    func testASmallWorkflowIsOnePageWithoutJobsNext() {
        let s = status(sizes: [10, 10, 10, 10, 10, 10])
        let (page, next) = s.page(from: 0)
        XCTAssertEqual(page, s)
        XCTAssertNil(next)
        XCTAssertEqual(s.pageJSON(from: 0), s.json, "the v1 reply, byte for byte")
    }

    func testPagesHoldJobsWhileTheyFitAndKeepEveryBlock() {
        let s = status(sizes: [100, 100, 100, 100, 100, 100])
        let one = bytes(s, 0, 0)
        let (page, next) = s.page(from: 0, maxBytes: 3 * one)
        XCTAssertEqual(jobIds(page), [["01J.0.0", "01J.0.1"], ["01J.1.0"], []], "exactly three jobs fit")
        XCTAssertEqual(next, 3)
        XCTAssertEqual(page.blocks.map(\.state), s.blocks.map(\.state), "every block, with its state")
        XCTAssertEqual(s.pageJSON(from: 0, maxBytes: 3 * one)["jobs_next"], 3)
        let (second, end) = s.page(from: 3, maxBytes: 3 * one)
        XCTAssertEqual(jobIds(second), [[], ["01J.1.1", "01J.1.2"], ["01J.2.0"]])
        XCTAssertNil(end)
        XCTAssertNil(s.pageJSON(from: 3, maxBytes: 3 * one)["jobs_next"])
    }

    func testAJobBiggerThanAPageComesAlone() {
        let s = status(sizes: [10, 5000, 10, 10, 10, 10])
        XCTAssertEqual(jobIds(s.page(from: 0, maxBytes: 1000).page), [["01J.0.0"], [], []])
        XCTAssertEqual(s.page(from: 0, maxBytes: 1000).next, 1)
        XCTAssertEqual(jobIds(s.page(from: 1, maxBytes: 1000).page), [["01J.0.1"], [], []], "alone, whole")
        XCTAssertEqual(s.page(from: 1, maxBytes: 1000).page.blocks[0].jobs[0].output, s.blocks[0].jobs[1].output)
        XCTAssertEqual(s.page(from: 1, maxBytes: 1000).next, 2)
    }

    func testTheLastJobCountsLikeAnyOther() {
        let s = status(sizes: [10, 10, 10, 10, 10, 5000])
        XCTAssertEqual(s.page(from: 0, maxBytes: 1000).next, 5, "a big last job does not join a full page")
        XCTAssertEqual(jobIds(s.page(from: 5, maxBytes: 1000).page), [[], [], ["01J.2.0"]])
    }

    func testJobsFromAtOrPastTheEndGivesNoJobs() {
        let s = status(sizes: [10, 10, 10, 10, 10, 10])
        for from in [6, 7, Int(Int32.max)] {
            let (page, next) = s.page(from: from)
            XCTAssertEqual(jobIds(page), [[], [], []])
            XCTAssertNil(next)
        }
    }

    func testFollowingThePagesGivesTheWholeWorkflow() {
        let s = status(sizes: [300, 20, 900, 5, 700, 64])
        for maxBytes in [1, 500, 1000, 1500, 1 << 20] {
            var (whole, next) = s.page(from: 0, maxBytes: maxBytes)
            var pages = 1
            while let from = next {
                let (page, after) = s.page(from: from, maxBytes: maxBytes)
                XCTAssertTrue(whole.append(page: page))
                next = after
                pages += 1
            }
            XCTAssertEqual(whole, s, "pages of \(maxBytes) bytes")
            XCTAssertLessThanOrEqual(pages, 6)
        }
    }

    func testAppendTakesTheLaterPagesFieldsAndRefusesAnotherWorkflow() {
        var first = status(sizes: [10, 10, 10, 10, 10, 10]).page(from: 0, maxBytes: 1).page
        var later = status(sizes: [10, 10, 10, 10, 10, 10]).page(from: 1, maxBytes: 1).page
        later.state = .failed
        later.blocks[2].state = .failed
        XCTAssertTrue(first.append(page: later))
        XCTAssertEqual(first.state, .failed)
        XCTAssertEqual(first.blocks[2].state, .failed)
        XCTAssertEqual(jobIds(first), [["01J.0.0", "01J.0.1"], [], []])
        var other = later
        other.id = "01K"
        XCTAssertFalse(first.append(page: other))
        other = later
        other.blocks.removeLast()
        XCTAssertFalse(first.append(page: other))
    }
}
