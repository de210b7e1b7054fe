import BatonWire
import Foundation
import XCTest

@testable import BatonStore

/// Runs a test body on an in-memory store, on an on-disk one (WAL, in a fresh temporary
/// directory that is deleted afterwards), as GRDB's own tests do, and on an on-disk one
/// opened as the broker opens it (`.owner`: the lock held, foreign keys not enforced, so
/// every test also shows the broker's connection leaves no row without its workflow).
extension XCTestCase {
    func onEveryStore(
        file: StaticString = #filePath, line: UInt = #line, _ body: (_ store: Store, _ path: String?) throws -> Void
    ) throws {
        try runLabelled("in-memory store", file: file, line: line) { try body(try Store(path: nil), nil) }
        try withTemporaryDatabase { path in
            try runLabelled("on-disk store", file: file, line: line) { try body(try Store(path: path), path) }
        }
        try withTemporaryDatabase { path in
            try runLabelled("the broker's store", file: file, line: line) {
                let store = try Store(path: path, access: .owner)
                defer { try? store.close() }
                try body(store, path)
                XCTAssertEqual(try store.integrityCheck(), "ok", "no job or event row without its workflow", file: file, line: line)
            }
        }
    }

    /// A path for a database file in a fresh temporary directory, removed afterwards.
    func withTemporaryDatabase(_ body: (String) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("baton-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try body(dir.appendingPathComponent("baton.sqlite").path)
    }

    /// Runs `body` and, if it recorded failures, says which store they were on.
    private func runLabelled(_ label: String, file: StaticString, line: UInt, _ body: () throws -> Void) throws {
        let before = testRun?.totalFailureCount ?? 0
        do {
            try body()
        } catch {
            XCTFail("\(label): \(error)", file: file, line: line)
            return
        }
        let after = testRun?.totalFailureCount ?? 0
        if after > before { XCTFail("the \(after - before) failure(s) above were on the \(label)", file: file, line: line) }
    }
}

// MARK: Fixtures

enum Fixture {
    static let t0: Int64 = 1_795_867_638_123

    /// A spec with `jobs[b]` jobs in block b.
    static func spec(_ name: String = "deploy", jobs: [Int] = [2, 1]) -> WorkflowSpec {
        WorkflowSpec(name: name, description: "d", blocks: jobs.enumerated().map { b, n in
            BlockSpec(description: "block \(b)", concurrency: n, jobs: (0..<n).map { j in
                JobSpec(type: "echo", name: "job \(b).\(j)", args: ["message": .string("hi \(b).\(j)"), "n": [1, .double(0.5)]],
                        timeoutMs: 1000, retry: RetryPolicy(maxAttempts: 2, backoffMs: 100))
            })
        })
    }

    /// A workflow as SUBMIT stores it, with its `workflow.submitted` event as seq 1.
    static func submitted(_ id: String, name: String = "deploy", key: String? = nil, at: Int64 = t0,
                          jobs: [Int] = [2, 1]) -> (WorkflowRecord, WorkflowEvent) {
        let record = WorkflowRecord(id: id, spec: spec(name, jobs: jobs), idempotencyKey: key, submittedAt: at,
                                    expiresAt: at + 86_400_000, lastEvent: 1)
        return (record, WorkflowEvent(seq: 1, at: at, kind: .workflowSubmitted, fields: ["name": .string(name)]))
    }

    /// A batch that inserts `records` with their first events.
    static func insert(_ items: (WorkflowRecord, WorkflowEvent)...) -> WriteBatch {
        var batch = WriteBatch()
        for (r, e) in items {
            batch.inserted.append(r)
            batch.events.append((r.id, EventRow(e)))
        }
        return batch
    }
}
