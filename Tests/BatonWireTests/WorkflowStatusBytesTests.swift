import XCTest

@testable import BatonWire

/// `pageBytes` must give exactly the bytes of the tree it replaces, for every shape of
/// status and every page.
final class WorkflowStatusBytesTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()

    private func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &rng) ? value() : nil }

    private func randomText() -> String {
        ["", "x", "déploiement ✓", "quote \" and \\ and \n", String(repeating: "long ", count: 40)].randomElement(using: &rng)!
    }

    private func randomJob(_ n: Int) -> WorkflowStatus.Job {
        var job = WorkflowStatus.Job(
            jobId: "01JA.0.\(n)", type: ["echo", "disk.erase"].randomElement(using: &rng)!, name: maybe(randomText()),
            state: JobState.allCases.randomElement(using: &rng)!, attempt: Int.random(in: 0...5, using: &rng),
            output: maybe(JSONValue.object(["ok": true, "n": .int(Int64(n)), "text": .string(randomText()), "list": [1, nil, .double(2.5)]])),
            error: maybe(randomText()), startedAt: maybe(1_795_000_000_000 + Int64(n)),
            finishedAt: maybe(1_795_000_000_500 + Int64(n)), waitingFor: maybe("no worker for echo"))
        job.progress = maybe(JSONValue.object(["percent": .int(Int64(n % 100))]))
        job.progressAt = maybe(1_795_000_000_250)
        return job
    }

    private func randomStatus() -> WorkflowStatus {
        var n = 0
        let blocks = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
            WorkflowStatus.Block(state: BlockState.allCases.randomElement(using: &rng)!,
                                 jobs: (0..<Int.random(in: 0...6, using: &rng)).map { _ in n += 1; return randomJob(n) })
        }
        return WorkflowStatus(
            id: "01JA", name: randomText(), state: WorkflowState.allCases.randomElement(using: &rng)!, reason: maybe(randomText()),
            blocks: blocks, submittedAt: 1_795_000_000_000, startedAt: maybe(1_795_000_000_100),
            finishedAt: maybe(1_795_000_000_900), owner: maybe("team-a"))
    }

    func testTheBytesAreTheTreesAtEveryPage() {
        for _ in 0..<500 {
            let status = randomStatus()
            for maxBytes in [0, 1, 150, 400, 2000, WorkflowStatus.maxPageBytes] {
                for from in 0...(status.jobCount + 1) {
                    let tree = JSONWriter.bytes(status.pageJSON(from: from, maxBytes: maxBytes))
                    let direct = status.pageBytes(from: from, maxBytes: maxBytes)
                    if direct != tree {
                        XCTFail("from \(from), maxBytes \(maxBytes):\n\(String(decoding: direct, as: UTF8.self))\n!=\n\(String(decoding: tree, as: UTF8.self))")
                        return
                    }
                }
            }
        }
    }

    func testAnEmptyWorkflowAndAPageOfOne() throws {
        let empty = WorkflowStatus(id: "w", name: "n", state: .submitted, blocks: [], submittedAt: 0)
        XCTAssertEqual(String(decoding: empty.pageBytes(from: 0), as: UTF8.self),
                       #"{"blocks":[],"id":"w","name":"n","state":"SUBMITTED","submitted_at":"1970-01-01T00:00:00.000Z"}"#)
        let jobs = (0..<3).map { WorkflowStatus.Job(jobId: "w.0.\($0)", type: "t", state: .pending, attempt: 0) }
        let three = WorkflowStatus(id: "w", name: "n", state: .running, blocks: [.init(state: .running, jobs: jobs)], submittedAt: 0)
        let page = try JSONParser.parse(three.pageBytes(from: 1, maxBytes: 1))
        XCTAssertEqual(page["jobs_next"], .int(2), "one job per page when none fits")
        XCTAssertEqual(page["blocks"]?.arrayValue?.first?["jobs"]?.arrayValue?.count, 1)
    }
}
