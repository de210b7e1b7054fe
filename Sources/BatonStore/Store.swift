import BatonWire
import GRDB

/// Baton's SQLite store: a small façade, one transaction per method.
///
/// Durability: WAL journal with `synchronous=FULL`, so a committed transaction survives
/// power loss, and `apply` is the only write path: the broker calls it once per turn,
/// which makes one fsync per turn however many messages the turn handled.
///
/// Not `Sendable`-shared on purpose: the broker's event loop owns it.
public final class Store {
    let db: DatabaseQueue

    /// Opens (creating if needed) the database file at `path`, or an in-memory database
    /// when `path` is nil, and migrates it to the current schema.
    public init(path: String?) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        let onDisk = path != nil
        config.prepareDatabase { db in
            // WAL is set here rather than with `config.journalMode = .wal`: GRDB's WAL
            // setup runs after this closure and sets `synchronous = NORMAL`, which would
            // lose the last commits on power loss and break "never lost".
            if onDisk { try db.execute(sql: "PRAGMA journal_mode = WAL") }
            // FULL: the WAL is fsynced at every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        if let path {
            db = try DatabaseQueue(path: path, configuration: config)
        } else {
            db = try DatabaseQueue(configuration: config)
        }
        try Schema.migrator.migrate(db)
    }

    // MARK: Writing

    /// Applies one turn's changes in one transaction. On error nothing is applied.
    public func apply(_ batch: WriteBatch) throws {
        if batch.isEmpty { return }
        try db.inTransaction(.immediate) { db in
            for w in batch.inserted { try insert(w, db) }
            for w in batch.updated { try update(w, db) }
            if !batch.jobs.isEmpty {
                let stmt = try db.cachedStatement(sql: """
                    UPDATE jobs SET state = ?, attempt = ?, output = ?, error = ?, started_at = ?, finished_at = ?, retry_at = ?
                    WHERE workflow_id = ? AND block = ? AND idx = ?
                    """)
                for j in batch.jobs {
                    let r = j.record
                    try stmt.execute(arguments: [
                        r.state.rawValue, r.attempt, r.output.map(JSONWriter.string), r.error, r.startedAt,
                        r.finishedAt, r.retryAt, j.workflowId, j.block, j.job,
                    ])
                    // An update that matches no row means the engine and the store disagree.
                    guard db.changesCount == 1 else { throw StoreError.corrupt("no job row \(j.workflowId).\(j.block).\(j.job) to update") }
                }
            }
            if !batch.events.isEmpty {
                let stmt = try db.cachedStatement(sql: "INSERT INTO events (workflow_id, seq, at, kind, data) VALUES (?, ?, ?, ?, ?)")
                for (id, e) in batch.events {
                    try stmt.execute(arguments: [id, e.seq, e.at, e.kind.rawValue, JSONWriter.string(.object(e.fields))])
                }
            }
            return .commit
        }
    }

    private func insert(_ w: WorkflowRecord, _ db: Database) throws {
        let stmt = try db.cachedStatement(sql: """
            INSERT INTO workflows (id, name, spec, idempotency_key, state, reason, current_block, submitted_at,
                                   started_at, finished_at, expires_at, last_event)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        try stmt.execute(arguments: [
            w.id, w.spec.name, JSONWriter.string(w.spec.json), w.idempotencyKey, w.state.rawValue, w.reason,
            w.currentBlock, w.submittedAt, w.startedAt, w.finishedAt, w.expiresAt, w.lastEvent,
        ])
        let job = try db.cachedStatement(sql: """
            INSERT INTO jobs (workflow_id, block, idx, state, attempt, output, error, started_at, finished_at, retry_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        for (b, jobs) in w.jobs.enumerated() {
            for (j, r) in jobs.enumerated() {
                try job.execute(arguments: [
                    w.id, b, j, r.state.rawValue, r.attempt, r.output.map(JSONWriter.string), r.error,
                    r.startedAt, r.finishedAt, r.retryAt,
                ])
            }
        }
    }

    private func update(_ w: WorkflowRecord, _ db: Database) throws {
        let stmt = try db.cachedStatement(sql: """
            UPDATE workflows SET state = ?, reason = ?, current_block = ?, started_at = ?, finished_at = ?,
                                 expires_at = ?, last_event = ?
            WHERE id = ?
            """)
        try stmt.execute(arguments: [
            w.state.rawValue, w.reason, w.currentBlock, w.startedAt, w.finishedAt, w.expiresAt, w.lastEvent, w.id,
        ])
        guard db.changesCount == 1 else { throw StoreError.corrupt("no workflow row \(w.id) to update") }
    }

    // MARK: Reading

    /// Runs a read on the connection. Not `DatabaseQueue.read`: that toggles
    /// `PRAGMA query_only` around each read, and SQLite expires every prepared statement
    /// when a flag pragma changes — so each read made every cached statement (the
    /// broker's inserts included) compile again. The broker is this store's only user
    /// and runs one thing at a time, so plain access is safe.
    private func reading<T>(_ body: (Database) throws -> T) throws -> T {
        try db.inDatabase(body)
    }

    /// Every workflow that is not final, with its jobs: what the broker rebuilds its
    /// memory from at start.
    public func loadActive() throws -> [WorkflowRecord] {
        try reading { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM workflows WHERE state IN ('SUBMITTED', 'RUNNING') ORDER BY seq")
            return try rows.map { try record(from: $0, db) }
        }
    }

    public func workflow(id: String) throws -> WorkflowRecord? {
        try reading { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM workflows WHERE id = ?", arguments: [id]) else {
                return nil
            }
            return try record(from: row, db)
        }
    }

    /// The workflow stored under an idempotency key. Called for every keyed SUBMIT not
    /// found in memory, so the common miss is one cached, indexed statement.
    public func workflow(idempotencyKey key: String) throws -> WorkflowRecord? {
        try reading { db in
            let stmt = try db.cachedStatement(sql: "SELECT * FROM workflows WHERE idempotency_key = ?")
            guard let row = try Row.fetchOne(stmt, arguments: [key]) else { return nil }
            return try record(from: row, db)
        }
    }

    /// A workflow's state alone (WATCH replies carry it).
    public func workflowState(id: String) throws -> WorkflowState? {
        try reading { db in
            try String.fetchOne(db, sql: "SELECT state FROM workflows WHERE id = ?", arguments: [id])
                .flatMap(WorkflowState.init(rawValue:))
        }
    }

    /// Events of a workflow with `seq > after`, oldest first, at most `limit`.
    public func events(workflowId: String, after: Int64, limit: Int) throws -> [WorkflowEvent] {
        try reading { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT seq, at, kind, data FROM events WHERE workflow_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                arguments: [workflowId, after, limit])
            return try rows.map { row in
                let kindText: String = row["kind"]
                guard let kind = EventKind(rawValue: kindText) else { throw StoreError.corrupt("unknown event kind \(kindText)") }
                let data: String = row["data"]
                return WorkflowEvent(seq: row["seq"], at: row["at"], kind: kind, fields: try JSONParser.parse(data).objectValue ?? [:])
            }
        }
    }

    /// A page of workflows, newest first, filtered by state and name; `before` is the id
    /// of the last workflow of the previous page.
    public func list(_ q: ListRequest) throws -> (workflows: [WorkflowSummary], next: String?) {
        try reading { db in
            var sql = "SELECT id, name, state, reason, submitted_at, started_at, finished_at, seq FROM workflows WHERE 1"
            var args: [any DatabaseValueConvertible] = []
            if let s = q.state { sql += " AND state = ?"; args.append(s.rawValue) }
            if let n = q.name { sql += " AND name = ?"; args.append(n) }
            if let b = q.before {
                sql += " AND seq < (SELECT seq FROM workflows WHERE id = ?)"
                args.append(b)
            }
            sql += " ORDER BY seq DESC LIMIT ?"
            args.append(q.limit + 1)
            let rows = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args))
            var out: [WorkflowSummary] = []
            for row in rows.prefix(q.limit) {
                let stateText: String = row["state"]
                guard let state = WorkflowState(rawValue: stateText) else { throw StoreError.corrupt("state \(stateText)") }
                out.append(WorkflowSummary(id: row["id"], name: row["name"], state: state, reason: row["reason"],
                                           submittedAt: row["submitted_at"], startedAt: row["started_at"],
                                           finishedAt: row["finished_at"]))
            }
            return (out, rows.count > q.limit ? out.last?.id : nil)
        }
    }

    /// How many workflows are stored in each state.
    public func countByState() throws -> [WorkflowState: Int] {
        try reading { db in
            var out: [WorkflowState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM workflows GROUP BY state") {
                if let s = WorkflowState(rawValue: row["state"]) { out[s] = row["n"] }
            }
            return out
        }
    }

    /// `PRAGMA integrity_check`'s answer ("ok" when the file is sound).
    public func integrityCheck() throws -> String {
        try reading { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer" }
    }

    private func record(from row: Row, _ db: Database) throws -> WorkflowRecord {
        let id: String = row["id"]
        let specText: String = row["spec"]
        let spec = try WorkflowSpec.parse(try JSONParser.parse(specText))
        let stateText: String = row["state"]
        guard let state = WorkflowState(rawValue: stateText) else { throw StoreError.corrupt("workflow \(id) state \(stateText)") }
        var jobs = spec.blocks.map { Array(repeating: JobRecord(), count: $0.jobs.count) }
        let jobRows = try Row.fetchCursor(db, sql: "SELECT * FROM jobs WHERE workflow_id = ?", arguments: [id])
        while let j = try jobRows.next() {
            let b: Int = j["block"], i: Int = j["idx"]
            guard b < jobs.count, i < jobs[b].count else { throw StoreError.corrupt("job \(id).\(b).\(i) outside its spec") }
            let js: String = j["state"]
            guard let jobState = JobState(rawValue: js) else { throw StoreError.corrupt("job state \(js)") }
            let output: String? = j["output"]
            jobs[b][i] = JobRecord(
                state: jobState, attempt: j["attempt"], output: try output.map { try JSONParser.parse($0) },
                error: j["error"], startedAt: j["started_at"], finishedAt: j["finished_at"], retryAt: j["retry_at"])
        }
        return WorkflowRecord(
            id: id, spec: spec, idempotencyKey: row["idempotency_key"], state: state, reason: row["reason"],
            currentBlock: row["current_block"], submittedAt: row["submitted_at"], startedAt: row["started_at"],
            finishedAt: row["finished_at"], expiresAt: row["expires_at"], lastEvent: row["last_event"], jobs: jobs)
    }
}

/// Failures of the store beyond SQLite's own errors.
public enum StoreError: Error, CustomStringConvertible {
    /// A stored row breaks an invariant the schema could not express.
    case corrupt(String)

    public var description: String {
        switch self {
        case .corrupt(let what): "corrupt store: \(what)"
        }
    }
}
