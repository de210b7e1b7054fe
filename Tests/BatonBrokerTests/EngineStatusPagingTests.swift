import BatonWire
import XCTest

@testable import BatonBroker

/// STATUS pages (spec §4.3.3) from memory and from the store, and the first page that
/// EXEC and CANCEL reply with.
final class EngineStatusPagingTests: XCTestCase {
    /// Jobs whose echoed output is ~200 KB: two never share a 256 KiB page.
    private func bigJobs(_ n: Int) -> [JobSpec] {
        (0..<n).map { JobSpec(type: "echo", args: ["pad": .string(String(repeating: "\($0)", count: 200_000))]) }
    }

    private func page(_ h: EngineHarness, _ id: String, from: Int? = nil) -> (jobs: [[String]], next: Int64?) {
        var body: [String: JSONValue] = ["id": .string(id)]
        if let from { body["jobs_from"] = .int(Int64(from)) }
        let r = h.request(.status, body)
        XCTAssertEqual(r.command, .status, "\(r.body)")
        let jobs = (r.body["blocks"]?.arrayValue ?? []).map { b in (b["jobs"]?.arrayValue ?? []).compactMap { $0["job_id"]?.stringValue } }
        return (jobs, r.body["jobs_next"]?.intValue)
    }

    func testStatusIsPagedFromMemoryAndFromTheStore() throws {
        let h = try EngineHarness()
        h.ready("w1", types: ["echo"], capacity: 1)
        let id = h.submit(spec([bigJobs(2), bigJobs(1)]))
        let exec = h.exec(id)
        XCTAssertNil(exec.body["jobs_next"], "PENDING jobs have no output: one page")
        for _ in 0..<2 {
            for j in h.takeJobs("w1") { h.result("w1", j, output: .object(j.args)) }
        }
        // Block 0 done from memory, block 1's job RUNNING (no output yet).
        XCTAssertNotNil(h.engine.record(id))
        var p = page(h, id)
        XCTAssertEqual(p.jobs, [["\(id).0.0"], []])
        XCTAssertEqual(p.next, 1)
        p = page(h, id, from: 1)
        XCTAssertEqual(p.jobs, [["\(id).0.1"], ["\(id).1.0"]], "a small job fits beside a big one")
        XCTAssertNil(p.next)

        h.drain(["w1"])
        h.advance(1)
        h.advance(1)
        XCTAssertNil(h.engine.record(id), "read from the store from here on")
        var seen: [[String]] = [[], []]
        var from: Int? = nil
        var pages = 0
        repeat {
            p = page(h, id, from: from)
            for b in p.jobs.indices { seen[b] += p.jobs[b] }
            from = p.next.map { Int($0) }
            pages += 1
        } while from != nil
        XCTAssertEqual(pages, 3, "each ~200 KB output on a page of its own")
        XCTAssertEqual(seen, [["\(id).0.0", "\(id).0.1"], ["\(id).1.0"]])
        XCTAssertEqual(page(h, id, from: 3).jobs, [[], []], "past the last job: no jobs")

        let cancel = h.request(.cancel, ["id": .string(id)])
        XCTAssertEqual(cancel.body["jobs_next"], 1, "CANCEL replies with the first page")
        XCTAssertEqual(h.request(.status, ["id": .string(id), "jobs_from": -1]).body["code"], "bad_request")
    }
}
