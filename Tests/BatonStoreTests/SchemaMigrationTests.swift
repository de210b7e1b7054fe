import BatonWire
import GRDB
import XCTest

@testable import BatonStore

/// Migrations keep what was stored: a database written at v1 opens at the current
/// schema with every row intact, and the rebuilt tables keep their constraints.
final class SchemaMigrationTests: XCTestCase {
    func testV1DatabaseMigratesWithEveryRowAndConstraint() throws {
        try withTemporaryDatabase { path in
            // A v1 file holding one running workflow with its job and events.
            let (w, e) = Fixture.submitted("01JA", key: "k1", jobs: [2, 1])
            do {
                let v1 = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(v1, upTo: "v1")
                try v1.write { db in
                    try db.execute(sql: """
                        INSERT INTO workflows (id, name, spec, idempotency_key, state, submitted_at, last_event)
                        VALUES (?, ?, ?, ?, 'RUNNING', ?, 1)
                        """, arguments: [w.id, w.spec.name, JSONWriter.string(w.spec.json), "k1", w.submittedAt])
                    for (b, n) in [2, 1].enumerated() {
                        for j in 0..<n {
                            try db.execute(sql: "INSERT INTO jobs (workflow_id, block, idx, state, attempt) VALUES (?, ?, ?, 'SUCCEEDED', 1)",
                                           arguments: [w.id, b, j])
                        }
                    }
                    try db.execute(sql: "INSERT INTO events (workflow_id, seq, at, kind, data) VALUES (?, 1, ?, ?, '{}')",
                                   arguments: [w.id, e.at, e.kind.rawValue])
                }
            }

            let store = try Store(path: path)
            let stored = try XCTUnwrap(try store.workflow(id: w.id))
            XCTAssertEqual(stored.state, .running)
            XCTAssertEqual(stored.idempotencyKey, "k1")
            XCTAssertEqual(stored.jobs.flatMap { $0 }.map(\.state), [.succeeded, .succeeded, .succeeded])
            XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 10).map(\.seq), [1])
            XCTAssertEqual(try store.workflow(idempotencyKey: "k1")?.id, w.id)
            XCTAssertEqual(try store.integrityCheck(), "ok")

            // The rebuilt tables still refuse what v1 refused.
            try store.db.inDatabase { db in
                XCTAssertThrowsError(try db.execute(sql: "UPDATE workflows SET state = 'BOGUS' WHERE id = ?", arguments: [w.id]))
                XCTAssertThrowsError(try db.execute(sql: "UPDATE jobs SET state = 'BOGUS' WHERE workflow_id = ?", arguments: [w.id]))
                XCTAssertThrowsError(try db.execute(sql: "UPDATE jobs SET attempt = -1 WHERE workflow_id = ?", arguments: [w.id]))
                XCTAssertThrowsError(try db.execute(
                    sql: "INSERT INTO jobs (workflow_id, block, idx, state) VALUES ('no-such-workflow', 0, 0, 'PENDING')"),
                    "the foreign key to workflows survives the rebuild")
                XCTAssertThrowsError(try db.execute(
                    sql: "INSERT INTO workflows (id, name, spec, state, submitted_at) VALUES (?, 'x', '{}', 'RUNNING', 0)",
                    arguments: [w.id]), "ids stay unique")
                let fkViolations = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
                XCTAssertEqual(fkViolations.count, 0)
            }
        }
    }

    func testV3AddsStopsAndStoppedAttemptsToAV2Database() throws {
        try withTemporaryDatabase { path in
            let (w, e) = Fixture.submitted("01JB", jobs: [1])
            do {
                let v2 = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(v2, upTo: "v2")
                try v2.write { db in
                    try db.execute(sql: """
                        INSERT INTO workflows (id, name, spec, state, submitted_at, last_event) VALUES (?, ?, ?, 'RUNNING', ?, 1)
                        """, arguments: [w.id, w.spec.name, JSONWriter.string(w.spec.json), w.submittedAt])
                    try db.execute(sql: "INSERT INTO jobs (workflow_id, block, idx, state, attempt) VALUES (?, 0, 0, 'PENDING', 2)",
                                   arguments: [w.id])
                    try db.execute(sql: "INSERT INTO events (workflow_id, seq, at, kind, data) VALUES (?, 1, ?, ?, '{}')",
                                   arguments: [w.id, e.at, e.kind.rawValue])
                }
            }
            let store = try Store(path: path)
            let job = try XCTUnwrap(try store.workflow(id: w.id)?.jobs[0][0])
            XCTAssertEqual(job.attempt, 2)
            XCTAssertEqual(job.stoppedAttempts, 0, "existing jobs had no stopped attempt")
            XCTAssertEqual(job.countedAttempts, 2)
            XCTAssertEqual(try store.loadStops(), [:])
            var batch = WriteBatch()
            batch.stops = [("erase", StopRecord(reason: "drill", at: 5)), ("*", StopRecord(reason: "freeze", at: 6))]
            try store.apply(batch)
            batch.stops = [("*", nil), ("erase", StopRecord(reason: "drill again", at: 7))]
            try store.apply(batch)
            XCTAssertEqual(try store.loadStops(), ["erase": StopRecord(reason: "drill again", at: 7)])
            try store.db.inDatabase { db in
                XCTAssertThrowsError(try db.execute(sql: "UPDATE jobs SET stopped_attempts = -1"))
                XCTAssertThrowsError(try db.execute(sql: "INSERT INTO stops (name, reason, at) VALUES ('x', '', 0)"), "a stop has a reason")
            }
        }
    }
}
