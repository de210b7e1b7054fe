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
                XCTAssertThrowsError(try db.execute(sql: "UPDATE jobs SET state = 'BOGUS'"))
                XCTAssertThrowsError(try db.execute(sql: "UPDATE jobs SET attempt = -1"))
                XCTAssertThrowsError(try db.execute(
                    sql: "INSERT INTO jobs (workflow, block, idx, state) VALUES (999999, 0, 0, 'PENDING')"),
                    "the foreign key to workflows survives the rebuild")
                XCTAssertThrowsError(try db.execute(
                    sql: "INSERT INTO events (workflow, seq, last, data) VALUES (999999, 1, 1, '[]')"),
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

    /// v7 folds events (FoldedEvents): each v6 event becomes a row of one, read back as
    /// the same event; a `data` that was not JSON is still reported as corrupt, not lost
    /// in silence; new events then fold.
    func testV6EventsBecomeFoldedRowsReadBackTheSame() throws {
        try withTemporaryDatabase { path in
            let (a, _) = Fixture.submitted("01JA", jobs: [1])
            let (b, _) = Fixture.submitted("01JB", jobs: [1])
            let events = [
                WorkflowEvent(seq: 1, at: Fixture.t0, kind: .workflowSubmitted, fields: ["name": "deploy ✓"]),
                WorkflowEvent(seq: 2, at: Fixture.t0 + 1, kind: .workflowRunning, fields: [:]),
                WorkflowEvent(seq: 3, at: Fixture.t0 + 2, kind: .jobDispatched,
                              fields: ["attempt": 1, "job_id": "01JA.0.0", "nested": ["z": [1, nil, .double(0.5)]]]),
            ]
            do {
                let v6 = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(v6, upTo: "v6")
                try v6.write { db in
                    for w in [a, b] {
                        try db.execute(sql: """
                            INSERT INTO workflows (id, name, spec, state, submitted_at, last_event) VALUES (?, ?, ?, 'RUNNING', ?, 3)
                            """, arguments: [w.id, w.spec.name, JSONWriter.string(w.spec.json), w.submittedAt])
                    }
                    for e in events {
                        try db.execute(sql: "INSERT INTO events (workflow, seq, at, kind, data) VALUES (1, ?, ?, ?, ?)",
                                       arguments: [e.seq, e.at, e.kind.rawValue, JSONWriter.string(.object(e.fields))])
                    }
                    try db.execute(sql: "INSERT INTO events (workflow, seq, at, kind, data) VALUES (2, 1, 0, 'workflow.submitted', 'not json')")
                }
            }
            let store = try Store(path: path)
            XCTAssertEqual(try store.schemaVersion(), Schema.currentVersion)
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 0, limit: 10), events)
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 1, limit: 1), [events[1]])
            XCTAssertThrowsError(try store.events(workflowId: "01JB", after: 0, limit: 10)) { error in
                guard case StoreError.corrupt = error else { return XCTFail("\(error)") }
            }
            try store.db.inDatabase { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events"), 4, "a row per v6 event")
                XCTAssertThrowsError(try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (1, 9, 8, '[]')"),
                                     "a row's range runs forward")
            }
            var batch = WriteBatch()
            let more = (4...6).map { WorkflowEvent(seq: Int64($0), at: Fixture.t0 + Int64($0), kind: .jobSucceeded, fields: ["job": 0]) }
            batch.events = more.map { ("01JA", EventRow($0)) }
            try store.apply(batch)
            XCTAssertEqual(try store.events(workflowId: "01JA", after: 2, limit: 10), [events[2]] + more)
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") }, 5, "three new events, one row")
        }
    }

    /// v8 drops the v7 rows that hold a workflow's first event alone, as its row says it
    /// (it is implied since), and keeps any other row holding seq 1, read as stored: each
    /// log reads back the same, through both readers, with nothing doubled.
    func testV7FirstEventRowsGoOnlyWhereTheWorkflowRowSaysTheSame() throws {
        try withTemporaryDatabase { path in
            let a = Fixture.submitted("01JA", name: "deploy \"x\" ✓")  // alone and the same: dropped
            var b = Fixture.submitted("01JB", name: "beta")
            b.1.at += 1  // alone, but not when the row says it was submitted: kept
            let c = Fixture.submitted("01JC", name: "gamma")  // folded with the next event: kept
            let running = WorkflowEvent(seq: 2, at: Fixture.t0 + 5, kind: .workflowRunning)
            func data(_ events: WorkflowEvent...) -> String {
                JSONWriter.string(.array(events.map { .array([.int($0.at), .string($0.kind.rawValue), .object($0.fields)]) }))
            }
            do {
                let v7 = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(v7, upTo: "v7")
                try v7.write { db in
                    for w in [a.0, b.0, c.0] {
                        try db.execute(sql: """
                            INSERT INTO workflows (id, name, spec, state, submitted_at, last_event) VALUES (?, ?, ?, 'RUNNING', ?, 2)
                            """, arguments: [w.id, w.spec.name, JSONWriter.string(w.spec.json), w.submittedAt])
                    }
                    for (workflow, seq, last, text) in [(1, 1, 1, data(a.1)), (1, 2, 2, data(running)), (2, 1, 1, data(b.1)),
                                                        (2, 2, 2, data(running)), (3, 1, 2, data(c.1, running))] {
                        try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (?, ?, ?, ?)",
                                       arguments: [workflow, seq, last, text])
                    }
                }
            }
            let store = try Store(path: path)
            XCTAssertEqual(try store.schemaVersion(), Schema.currentVersion)
            for (w, first) in [(a.0, a.1), (b.0, b.1), (c.0, c.1)] {
                let log = [first, running]
                XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 10), log, w.id)
                XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 1), [first], w.id)
                XCTAssertEqual(try store.events(workflowId: w.id, after: 1, limit: 10), [running], w.id)
                for after in [0, 1] as [Int64] {
                    XCTAssertEqual(try store.eventsReply(workflowId: w.id, after: after, limit: 10)?.bytes,
                                   WorkflowEvent.eventsReplyBytes(id: w.id, state: .running, events: log.filter { $0.seq > after }),
                                   "\(w.id) after \(after)")
                }
            }
            try store.db.inDatabase { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events"), 4)
                XCTAssertEqual(try Int.fetchAll(db, sql: "SELECT workflow FROM events WHERE seq = 1 ORDER BY workflow"), [2, 3])
            }
        }
    }

    /// A new file gets the current schema in one step (`Schema.createIfEmpty`): the same
    /// tables, indexes and constraints, byte for byte as SQLite stores them, the same
    /// version and the same migrations recorded as a file taken through v1...v9, and a
    /// second open migrates nothing. A file that holds any table is left to the migrations.
    func testANewFileGetsTheSchemaTheMigrationsLeaveInOneStep() throws {
        func schema(_ db: DatabaseQueue) throws -> (rows: [[String?]], version: Int, applied: [String]) {
            try db.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_sequence' ORDER BY name
                    """).map { row in (0..<4).map { row[$0] as String? } }
                let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
                return (rows, version, applied)
            }
        }
        try withTemporaryDatabase { path in
            let stepwise = try DatabaseQueue()
            try Schema.migrator.migrate(stepwise)
            let expected = try schema(stepwise)
            XCTAssertEqual(expected.applied, Schema.migrationIdentifiers, "migrationIdentifiers names every migration")
            XCTAssertEqual(try stepwise.read { try Schema.migrator.completedMigrations($0) }, Schema.migrationIdentifiers)

            let store = try Store(path: path)
            let fresh = try schema(store.db)
            XCTAssertEqual(fresh.rows.count, expected.rows.count)
            for (a, b) in zip(fresh.rows, expected.rows) { XCTAssertEqual(a, b) }
            XCTAssertEqual(fresh.version, Schema.currentVersion)
            XCTAssertEqual(fresh.version, expected.version)
            XCTAssertEqual(fresh.applied, expected.applied)
            XCTAssertEqual(try store.db.read { try Schema.migrator.hasCompletedMigrations($0) }, true)
            XCTAssertEqual(try store.db.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'") }, 0,
                           "made in one step, not through v1's AUTOINCREMENT table")
            XCTAssertFalse(try Schema.createIfEmpty(store.db), "a file with tables is left to the migrations")
            XCTAssertFalse(try Schema.createIfEmpty(stepwise))

            // It works as the current schema: a workflow goes in and reads back, and the
            // constraints hold.
            let submitted = Fixture.submitted("01JA", key: "k1", jobs: [1])
            let w = submitted.0
            try store.apply(Fixture.insert(submitted))
            try store.close()
            let reopened = try Store(path: path)
            XCTAssertEqual(try reopened.workflow(id: w.id)?.idempotencyKey, "k1")
            XCTAssertEqual(try reopened.integrityCheck(), "ok")
            try reopened.db.inDatabase { db in
                XCTAssertThrowsError(try db.execute(sql: "UPDATE workflows SET state = 'BOGUS'"))
                XCTAssertThrowsError(try db.execute(sql: "INSERT INTO events (workflow, seq, last, data) VALUES (999999, 2, 2, '[]')"),
                                     "the foreign key to workflows")
            }
        }
    }

    /// A file a newer baton migrated is refused by a broker's and a tool's connection,
    /// with the versions named, and nothing in it is changed; an inspector (`baton db
    /// check`) still opens it and reads its version.
    func testAFileOfANewerSchemaIsRefusedNotMisread() throws {
        try withTemporaryDatabase { path in
            do {
                let store = try Store(path: path)
                try store.apply(Fixture.insert(Fixture.submitted("01JA")))
                try store.close()
            }
            do {
                let newer = try DatabaseQueue(path: path)
                try newer.write { db in
                    try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99')")
                    try db.execute(sql: "PRAGMA user_version = 99")
                }
                try newer.close()
            }
            for access in [Store.Access.owner, .shared] {
                XCTAssertThrowsError(try Store(path: path, access: access), "\(access)") { error in
                    guard case StoreError.newerSchema(99) = error else { return XCTFail("\(error)") }
                    XCTAssertTrue("\(error)".contains("version 99, newer than this baton's \(Schema.currentVersion)"), "\(error)")
                }
            }
            let inspector = try Store(path: path, access: .inspector)
            XCTAssertEqual(try inspector.schemaVersion(), 99)
            XCTAssertEqual(try inspector.list(ListRequest()).workflows.map(\.id), ["01JA"])
        }
    }

    /// v6 keys jobs and events by the workflow's integer seq: a v5 file keeps every row,
    /// each child still under its own workflow, orphans (which v5's broker connection
    /// could leave) are not carried over, and the schema then works as the current one.
    func testV5DatabaseMovesToIntegerKeysWithEveryRow() throws {
        try withTemporaryDatabase { path in
            let a = Fixture.submitted("01JA", name: "alpha", key: "ka", jobs: [2])
            let b = Fixture.submitted("01JB", name: "beta", jobs: [1, 1])
            do {
                let v5 = try DatabaseQueue(path: path)
                try Schema.migrator.migrate(v5, upTo: "v5")
                try v5.write { db in
                    for (w, owner) in [(a.0, "team-a" as String?), (b.0, nil)] {
                        try db.execute(sql: """
                            INSERT INTO workflows (id, name, spec, idempotency_key, state, submitted_at, last_event, owner)
                            VALUES (?, ?, ?, ?, 'RUNNING', ?, 2, ?)
                            """, arguments: [w.id, w.spec.name, JSONWriter.string(w.spec.json), w.idempotencyKey, w.submittedAt, owner])
                        for (blk, jobs) in w.jobs.enumerated() {
                            for j in jobs.indices {
                                try db.execute(sql: """
                                    INSERT INTO jobs (workflow_id, block, idx, state, attempt, output) VALUES (?, ?, ?, 'SUCCEEDED', 1, ?)
                                    """, arguments: [w.id, blk, j, "{\"w\":\"\(w.id)\",\"j\":\(j)}"])
                            }
                        }
                        for seq in 1...2 {
                            try db.execute(sql: "INSERT INTO events (workflow_id, seq, at, kind, data) VALUES (?, ?, ?, 'workflow.running', ?)",
                                           arguments: [w.id, seq, w.submittedAt + Int64(seq), "{\"w\":\"\(w.id)\"}"])
                        }
                    }
                }
                // What v5's broker connection could leave: rows without their workflow.
                try v5.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA foreign_keys = OFF")
                    try db.execute(sql: "INSERT INTO jobs (workflow_id, block, idx, state) VALUES ('01GONE', 0, 0, 'PENDING')")
                    try db.execute(sql: "INSERT INTO events (workflow_id, seq, at, kind, data) VALUES ('01GONE', 1, 0, 'x', '{}')")
                }
            }
            let store = try Store(path: path)
            XCTAssertEqual(try store.schemaVersion(), Schema.currentVersion)
            for w in [a.0, b.0] {
                let stored = try XCTUnwrap(try store.workflow(id: w.id))
                XCTAssertEqual(stored.spec, w.spec)
                XCTAssertEqual(stored.jobs.map(\.count), w.jobs.map(\.count))
                for (blk, jobs) in stored.jobs.enumerated() {
                    for (j, job) in jobs.enumerated() {
                        XCTAssertEqual(job.output, ["w": .string(w.id), "j": .int(Int64(j))], "\(w.id).\(blk).\(j)")
                    }
                }
                XCTAssertEqual(try store.events(workflowId: w.id, after: 0, limit: 10).map(\.fields), [["w": .string(w.id)], ["w": .string(w.id)]])
            }
            XCTAssertEqual(try store.workflow(idempotencyKey: "ka")?.id, "01JA")
            XCTAssertEqual(try store.list(ListRequest(owner: "team-a")).workflows.map(\.id), ["01JA"])
            XCTAssertEqual(try store.list(ListRequest()).workflows.map(\.id), ["01JB", "01JA"], "submission order kept")
            XCTAssertEqual(try store.integrityCheck(), "ok", "the orphans were not carried over")
            try store.db.inDatabase { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs"), 4)
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events"), 4)
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'"), 1,
                               "the table stays (SQLite never drops it), but workflows no longer writes it")
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'workflows'"), 0)
            }
            // And the migrated file takes new workflows after the old ones.
            let c = Fixture.submitted("01JC", jobs: [1])
            try store.apply(Fixture.insert(c))
            XCTAssertEqual(try store.list(ListRequest()).workflows.map(\.id), ["01JC", "01JB", "01JA"])
            XCTAssertEqual(try store.events(workflowId: "01JC", after: 0, limit: 10), [c.1])
        }
    }
}
