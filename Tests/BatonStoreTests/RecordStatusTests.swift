import BatonWire
import XCTest

@testable import BatonStore

/// STATUS written from the record, the page's jobs only (`statusPageBytes`), is the
/// whole status built and then paged (`status.pageBytes`), decorations included.
final class RecordStatusTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()

    private func randomRecord() -> WorkflowRecord {
        let shape = (0..<Int.random(in: 1...3, using: &rng)).map { _ in Int.random(in: 1...6, using: &rng) }
        var (w, _) = Fixture.submitted("01JS", name: "deploy \"x\"", jobs: shape)
        w.state = WorkflowState.allCases.randomElement(using: &rng)!
        w.currentBlock = Int.random(in: 0..<shape.count, using: &rng)
        w.reason = Bool.random(using: &rng) ? "because ✓" : nil
        w.owner = Bool.random(using: &rng) ? "team-a" : nil
        w.startedAt = Bool.random(using: &rng) ? Fixture.t0 + 5 : nil
        w.finishedAt = Bool.random(using: &rng) ? Fixture.t0 + 9 : nil
        for b in w.jobs.indices {
            for j in w.jobs[b].indices {
                let state = JobState.allCases.randomElement(using: &rng)!
                w.jobs[b][j] = JobRecord(state: state, attempt: Int.random(in: 0...3, using: &rng),
                                         output: state == .succeeded ? ["n": .int(Int64(j)), "text": .string(String(repeating: "o", count: Int.random(in: 0...300, using: &rng)))] : nil,
                                         error: state == .failed ? "boom" : nil, startedAt: Fixture.t0 + 1, finishedAt: state.isFinal ? Fixture.t0 + 2 : nil)
            }
        }
        return w
    }

    func testThePageWrittenFromTheRecordIsTheWholeStatusPaged() {
        for _ in 0..<500 {
            let w = randomRecord()
            let total = w.jobs.map(\.count).reduce(0, +)
            let maxBytes = [200, 600, 2000, WorkflowStatus.maxPageBytes].randomElement(using: &rng)!
            let from = Int.random(in: 0...total, using: &rng)
            func mark(_ b: Int, _ j: Int, _ job: inout WorkflowStatus.Job) {
                if (b + j) % 2 == 0 {
                    job.waitingFor = "slot \(b).\(j)"
                } else {
                    job.progress = ["pct": .int(Int64(j))]
                    job.progressAt = Fixture.t0 + Int64(j)
                }
            }
            var whole = w.status
            for b in whole.blocks.indices { for j in whole.blocks[b].jobs.indices { mark(b, j, &whole.blocks[b].jobs[j]) } }
            var made = 0
            let direct = w.statusPageBytes(from: from, maxBytes: maxBytes) { b, j, state, extras in
                made += 1
                XCTAssertEqual(state, w.jobs[b][j].state)
                var job = w.statusJob(b, j)
                mark(b, j, &job)
                extras.waitingFor = job.waitingFor
                extras.progress = job.progress
                extras.progressAt = job.progressAt
            }
            XCTAssertEqual(String(decoding: direct, as: UTF8.self), String(decoding: whole.pageBytes(from: from, maxBytes: maxBytes), as: UTF8.self),
                           "from \(from) maxBytes \(maxBytes)")
            XCTAssertEqual(w.statusPageBytes(from: from, maxBytes: maxBytes), w.status.pageBytes(from: from, maxBytes: maxBytes))
            XCTAssertLessThanOrEqual(made, max(0, total - from), "only jobs from the page's first on are made")
        }
    }

    /// A page of a big workflow makes its own jobs and the one that did not fit, no more.
    func testOnlyThePagesJobsAreMade() throws {
        var (w, _) = Fixture.submitted("01JS", jobs: [1000])
        for j in w.jobs[0].indices { w.jobs[0][j] = JobRecord(state: .succeeded, attempt: 1, output: ["n": .int(Int64(j))]) }
        var made = 0
        let page = w.statusPageBytes(from: 10, maxBytes: 2000) { _, _, _, _ in made += 1 }
        let next = try? JSONParser.parse(page).objectValue?["jobs_next"]?.intValue
        let onPage = Int(try XCTUnwrap(next)) - 10
        XCTAssertGreaterThan(onPage, 1)
        XCTAssertEqual(made, onPage + 1)
    }
}
