import BatonWire
import CBatonSQLite
import Foundation
import GRDB
import GRDBSQLite
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Baton's SQLite store: a small façade, one transaction per method.
///
/// Durability: WAL journal with `synchronous=FULL`, so a committed transaction survives
/// power loss, and `apply` is the only write path: the broker's committer calls it once
/// for one or more turns, which makes one fsync however many messages they handled.
///
/// `Sendable`: GRDB's `DatabaseQueue` serialises every access to the connection, and
/// the lock is guarded by a mutex, so any thread may call any method. The broker still
/// gives it one user at a time (its committer thread while turns are in flight, the
/// event loop only when none is), so that the loop never waits on a commit.
public final class Store: Sendable {
    let db: DatabaseQueue
    /// Whether this is the owner's connection (`.owner`): the only one that writes rows.
    private let isOwner: Bool
    /// Held by the owner (the broker) for as long as the store is open.
    private let lock: FileLock?
    /// The WAL hook's context while `checkpointElsewhere` is in force (SQLite holds only
    /// a raw pointer to it).
    let walHook = Mutex<WalHook?>(nil)
    /// Workflow id → seq (its rowid, the key of its jobs and events), for the writes of
    /// `apply`, so that a turn's updates and events of a workflow written before do not
    /// look its seq up in the id index. Filled by inserts and lookups; an entry goes when
    /// its workflow's final update is written (nothing is written for it after, and the
    /// broker's memory must not grow with finished workflows); emptied when a transaction
    /// fails (a rolled-back insert's seq is given again to the next one) and, as a bound,
    /// past `maxCachedKeys` (workflows SUBMITTED and never run).
    private let workflowKeys = Mutex<WorkflowIdMap<Int64>>(WorkflowIdMap())
    private static let maxCachedKeys = 50_000

    /// How a store is opened.
    public enum Access: Sendable {
        /// Reads and writes, for tools, tests and the benchmark's preparation; refused
        /// while a broker (an `.owner`) has the file.
        case shared
        /// Reads and writes, and `<path>.lock` held so that a second owner fails to
        /// start: the broker (two brokers would dispatch the same jobs).
        case owner
        /// A second connection that only reads, beside an owner in the same process:
        /// in WAL mode it reads the last commit while the owner's connection writes.
        /// Never migrates.
        case reader
        /// Reads only, for an offline check (`baton db check`): takes the shared lock, so
        /// it is refused while a broker owns the file, and never migrates (a file of an
        /// older schema is reported as it is).
        case inspector
        /// A second connection beside an owner in the same process that only runs WAL
        /// checkpoints (`checkpoint()`), so that the owner's commits never do
        /// (`checkpointElsewhere`). Takes no lock, never migrates.
        case checkpointer
    }

    /// Opens (creating if needed) the database file at `path`, or an in-memory database
    /// when `path` is nil, and migrates it to the current schema (except `.reader`).
    public init(path: String?, access: Access = .shared) throws {
        _ = Self.sqliteMemoryStatistics
        isOwner = access == .owner
        var config = Configuration()
        config.busyMode = .timeout(5)
        // The broker's connection does not enforce the foreign keys of `jobs` and `events`
        // to `workflows(id)`: enforced, every job and event insert probes the workflows'
        // TEXT id index (8 probes per one-job workflow, a tenth of the committer's
        // instructions). It is safe because the broker is the only writer of those rows
        // and writes them only for a workflow it has inserted (in the same transaction or
        // an earlier one: `write` inserts workflows before their jobs and events), and
        // deletes children before their workflow (`deleteFinished`); `integrityCheck`
        // (run by `baton db check` and at the end of the chaos and fuzz tests) reports any
        // row left without its workflow. Every other connection (tools, tests) enforces
        // them, so the schema's constraints still guard what is written by hand.
        config.foreignKeysEnabled = access != .owner
        let onDisk = path != nil
        if access == .reader || access == .inspector || access == .checkpointer {
            guard onDisk else { throw StoreError.locked("a reader needs a database file, not :memory:") }
            config.readonly = access != .checkpointer
        }
        config.prepareDatabase { db in
            // WAL is set here rather than with `config.journalMode = .wal`: GRDB's WAL
            // setup runs after this closure and sets `synchronous = NORMAL`, which would
            // lose the last commits on power loss and break "never lost". (A reader
            // finds the file in WAL mode already: the mode is stored in the file.)
            if onDisk && access != .reader && access != .inspector && access != .checkpointer {
                try db.execute(sql: "PRAGMA journal_mode = WAL")
            }
            // FULL: the WAL is fsynced at every commit.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        // A reader or checkpointer beside its owner, in the owner's process, takes no lock
        // of its own.
        let besideOwner = access == .reader || access == .checkpointer
        lock = try (besideOwner ? nil : path.map { try FileLock(database: $0, exclusive: access == .owner) })
        if let path {
            db = try DatabaseQueue(path: path, configuration: config)
        } else {
            db = try DatabaseQueue(configuration: config)
        }
        if access == .shared || access == .owner {
            try Self.refuseNewerSchema(db)
            try Schema.createIfEmpty(db)
            try Schema.migrator.migrate(db)
        }
    }

    /// Whether SQLite counts its memory in this process: set off by the first store
    /// opened, when that is the process's first use of SQLite (the broker's and the
    /// CLI's: `sqlite3_config` is refused once SQLite is initialized, and the setting
    /// then stays as it was, on).
    ///
    /// Why off: with the statistics on (SQLite's default), every allocation and free
    /// takes a process-wide mutex and updates its counters: ~3,900 instructions per
    /// SUBMIT's commit in `scripts/profile`, a tenth of the committer's, around ~16
    /// mallocs that cost less themselves (this system's SQLite is built without the
    /// lookaside allocator, `OMIT_LOOKASIDE`, so every cursor is a malloc). Baton reads
    /// none of them (`sqlite3_memory_used`, `sqlite3_status64`) and sets no heap limit.
    public enum MemoryStatistics: Sendable { case off, on }
    public static let sqliteMemoryStatistics: MemoryStatistics =
        baton_sqlite_config_memstatus(0) == SQLITE_OK ? .off : .on

    /// Refuses a file that a newer baton migrated: migrations only run forward, and this
    /// code would misread what it does not know (since v8, for one, a log's first event
    /// has no row). Tools that only inspect (`.inspector`, `baton db check`) still open
    /// it and report its version.
    private static func refuseNewerSchema(_ db: DatabaseQueue) throws {
        let (superseded, version) = try db.read { db in
            (try Schema.migrator.hasBeenSuperseded(db), try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0)
        }
        if superseded || version > Schema.currentVersion { throw StoreError.newerSchema(version) }
    }

    /// Closes the connection and gives up the lock now (not when the last reference
    /// goes): a broker restarted in the same process must find the file free.
    public func close() throws {
        defer { lock?.release() }
        try db.close()
    }

    // MARK: Writing

    /// Applies one turn's changes in one transaction. On error nothing is applied.
    public func apply(_ batch: WriteBatch) throws {
        try apply(CollectionOfOne(batch))
    }

    /// Applies several turns' changes, in order, in ONE transaction (one fsync): the
    /// broker's committer coalesces the turns that queued up while it committed the
    /// previous ones. On error nothing of any of them is applied.
    public func apply(_ batches: some Collection<WriteBatch>) throws {
        _ = try apply(batches, deletingFinishedBefore: nil, limit: 0)
    }

    /// `apply`, and in the same transaction — so with no fsync of its own — up to `limit`
    /// expired workflows deleted as `deleteFinished` does (when `cutoff` is given and the
    /// turns write anything). The deletion runs in a savepoint: if it fails, it alone is
    /// rolled back and the turns still commit. Returns what `deleteFinished` would.
    public func apply(_ batches: some Collection<WriteBatch>, deletingFinishedBefore cutoff: Int64?,
                      limit: Int) throws -> (deleted: Int, noneLeft: Bool) {
        if batches.allSatisfy(\.isEmpty) { return (0, false) }
        var pruned = (deleted: 0, noneLeft: false)
        try workflowKeys.withLock { keys in
            if keys.count > Self.maxCachedKeys { keys.removeAll(keepingCapacity: true) }
            do {
                try db.inDatabase { db in
                    try Self.inTransaction(.immediate, db) {
                        for batch in batches { try write(batch, db, &keys) }
                        if let cutoff, limit > 0 {
                            try? db.inSavepoint {
                                pruned = try deleteFinished(before: cutoff, limit: limit, chunk: limit, db, &keys) { true }
                                return .commit
                            }
                        }
                    }
                }
            } catch {
                keys.removeAll()
                throw error
            }
        }
        return pruned
    }

    /// Entries in the id → seq map (for tests: it must not grow with finished workflows).
    var cachedWorkflowKeys: Int { workflowKeys.withLock { $0.count } }

    /// The seq of workflow `id`: cached, or looked up (and cached). A workflow with no row
    /// is an engine and store that disagree.
    private func key(of id: String, _ db: Database, _ keys: inout WorkflowIdMap<Int64>) throws -> Int64 {
        if let seq = keys[id] { return seq }
        let probe = RawStatement(try db.cachedStatement(sql: "SELECT seq FROM workflows WHERE id = ?"), db)
        try probe.bind(1, id)
        var found: Int64?
        try probe.forEachRow { row in found = row.int64(0) }
        guard let seq = found else { throw StoreError.corrupt("no workflow row \(id)") }
        keys[id] = seq
        return seq
    }

    private func write(_ batch: WriteBatch, _ db: Database, _ keys: inout WorkflowIdMap<Int64>) throws {
        var row = RowArguments()
        if !batch.inserted.isEmpty {
            let workflow = RawStatement(try db.cachedStatement(sql: """
                INSERT INTO workflows (id, name, spec, idempotency_key, submitted_at, owner,
                                       state, reason, current_block, started_at, finished_at, expires_at, last_event)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), db)
            let job = RawStatement(try db.cachedStatement(sql: """
                INSERT INTO jobs (workflow, block, idx, state, attempt, output, error, started_at, finished_at, retry_at,
                                  stopped_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), db)
            for w in batch.inserted { keys[w.id] = try insert(w, workflow, job, &row) }
        }
        if !batch.updated.isEmpty {
            let stmt = RawStatement(try db.cachedStatement(sql: """
                UPDATE workflows SET state = ?, reason = ?, current_block = ?, started_at = ?, finished_at = ?,
                                     expires_at = ?, last_event = ?
                WHERE seq = ?
                """), db)
            for w in batch.updated {
                row.removeAll()
                appendProgress(w, to: &row)
                row.append(try key(of: w.id, db, &keys))
                // An update that matches no row means the engine and the store disagree.
                guard try stmt.run(row) == 1 else { throw StoreError.corrupt("no workflow row \(w.id) to update") }
            }
        }
        // Forgotten after this batch's events, which may still be the workflow's last.
        defer { for w in batch.updated where w.state.isFinal { keys[w.id] = nil } }
        if !batch.jobs.isEmpty {
            // A job's row is written whole, made at its first write (`insert` leaves the
            // rows of untouched jobs out): REPLACE, not UPDATE. The workflow's row must
            // exist (`key(of:)` says the store is corrupt otherwise).
            let stmt = RawStatement(try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO jobs (workflow, block, idx, state, attempt, output, error, started_at, finished_at,
                                            retry_at, stopped_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """), db)
            for j in batch.jobs {
                row.removeAll()
                row.append(try key(of: j.workflowId, db, &keys))
                row.append(j.block)
                row.append(j.job)
                appendJob(j.record, to: &row)
                try stmt.run(row)
            }
        }
        for (name, stop) in batch.stops {
            if let stop {
                try db.execute(sql: "INSERT INTO stops (name, reason, at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET reason = excluded.reason, at = excluded.at",
                               arguments: [name, stop.reason, stop.at])
            } else {
                try db.execute(sql: "DELETE FROM stops WHERE name = ?", arguments: [name])
            }
        }
        try writeEvents(batch.events, db, &keys, &row)
    }

    /// The batch's events: one row per workflow per commit, not per event, and none for a
    /// workflow's first event (FoldedEvents). A turn of SUBMITs writes no row.
    private func writeEvents(_ events: [(workflowId: String, event: EventRow)], _ db: Database,
                             _ keys: inout WorkflowIdMap<Int64>, _ row: inout RowArguments) throws {
        guard !events.isEmpty else { return }
        let grouping = FoldedEvents.group(events)
        guard !grouping.rows.isEmpty else { return }
        let stmt = RawStatement(try db.cachedStatement(sql: "INSERT INTO events (workflow, seq, last, data, outputs) VALUES (?, ?, ?, ?, ?)"), db)
        for folded in grouping.rows {
            // Seq 1 is the implied `workflow.submitted` (spec §7); any other event
            // numbered 1 would hide it, where its row's key refused it before v8.
            let head = events[folded.head].event
            guard head.seq != 1 else { throw StoreError.corrupt("event 1 of \(folded.workflowId) is \(head.kind.rawValue), not workflow.submitted") }
            row.removeAll()
            row.append(try key(of: folded.workflowId, db, &keys))
            row.append(head.seq)
            row.append(events[folded.tail].event.seq)
            row.append(folded: events, from: folded.head, next: grouping.next)
            row.append(outputs: events, from: folded.head, next: grouping.next)
            try stmt.run(row)
        }
    }

    /// Inserts a workflow and the rows of its jobs that are not untouched; returns its
    /// seq (the rowid SQLite gave it).
    ///
    /// A job has no row until something happens to it (its first dispatch, a cancel):
    /// a missing row reads as an untouched job (PENDING, attempt 0; `record(from:)`
    /// starts every job so from the spec), so a new workflow's rows said nothing its
    /// spec does not. They cost a b-tree insert each at SUBMIT (14k instructions per
    /// job, a tenth of a one-job workflow's SUBMIT) and the first write had to update
    /// them anyway.
    private func insert(_ w: WorkflowRecord, _ workflow: RawStatement, _ job: RawStatement, _ row: inout RowArguments) throws -> Int64 {
        row.removeAll()
        row.append(w.id)
        row.append(w.spec.name)
        row.append(w.spec)
        row.append(w.idempotencyKey)
        row.append(w.submittedAt)
        row.append(w.owner)
        appendProgress(w, to: &row)
        try workflow.run(row)
        let seq = workflow.lastInsertedRowid
        for (b, jobs) in w.jobs.enumerated() {
            for (j, r) in jobs.enumerated() where !r.isUntouched {
                row.removeAll()
                row.append(seq)
                row.append(b)
                row.append(j)
                appendJob(r, to: &row)
                try job.run(row)
            }
        }
        return seq
    }

    /// A workflow's seven columns that change as it runs, state ... last_event, in that
    /// order (the tail of the insert, the whole of the update).
    private func appendProgress(_ w: WorkflowRecord, to row: inout RowArguments) {
        row.append(w.state.rawValue)
        row.append(w.reason)
        row.append(w.currentBlock)
        row.append(w.startedAt)
        row.append(w.finishedAt)
        row.append(w.expiresAt)
        row.append(w.lastEvent)
    }

    /// A job's eight state columns, state ... retry_at, stopped_attempts, in that order.
    private func appendJob(_ r: JobRecord, to row: inout RowArguments) {
        row.append(r.state.rawValue)
        row.append(r.attempt)
        row.append(json: r.outputText)
        row.append(r.error)
        row.append(r.startedAt)
        row.append(r.finishedAt)
        row.append(r.retryAt)
        row.append(r.stoppedAttempts)
    }

    // MARK: Reading
    //
    // Reads the broker answers while it serves (STATUS and WATCH of stored workflows, key
    // lookups) use `db.cachedStatement`: `Row.fetchOne(db, sql:)` compiles its SQL at every
    // call, and a WATCH's events read compiled two statements, ~580k instructions, for
    // each answer (more than the rest of a one-job workflow). Reads run once per start or
    // per tool call keep the plain form.

    /// Runs a read of one statement on the connection. Not `DatabaseQueue.read`: that
    /// toggles `PRAGMA query_only` around each read, and SQLite expires every prepared
    /// statement when a flag pragma changes — so each read made every cached statement
    /// (the broker's inserts included) compile again.
    private func reading<T>(_ body: (Database) throws -> T) throws -> T {
        try db.inDatabase(body)
    }

    /// Runs a read of several statements in one transaction, so that they all see the
    /// same commit: outside one, a writer on another connection (a broker beside a
    /// `.reader`) could commit between the workflow's row and its jobs, and the record
    /// would mix two states.
    ///
    /// Not on the owner's connection (the broker's): every write to the file goes through
    /// this same queue (the lock keeps other writers out; a `.reader` or a
    /// `.checkpointer` beside it writes no rows), so no commit can land between two
    /// statements of one `inDatabase` call, and BEGIN and COMMIT were ~13k instructions
    /// of each WATCH answer for nothing.
    private func readingSnapshot<T>(_ body: (Database) throws -> T) throws -> T {
        if isOwner { return try db.inDatabase(body) }
        return try db.inDatabase { db in try Self.inTransaction(.deferred, db) { try body(db) } }
    }

    /// The SQL of every statement the connection holds compiled now (GRDB's cache keeps
    /// the ones `cachedStatement` made; a plain `fetchOne(db, sql:)` finalizes its own
    /// after the call). Tests check with it which reads stay compiled.
    func compiledStatements() -> [String] {
        db.inDatabase { db in
            var sql: [String] = []
            var stmt = sqlite3_next_stmt(db.sqliteConnection, nil)
            while let s = stmt {
                if let text = sqlite3_sql(s) { sql.append(String(cString: text)) }
                stmt = sqlite3_next_stmt(db.sqliteConnection, s)
            }
            return sql
        }
    }

    /// A transaction begun and ended by statements compiled once per connection: GRDB's
    /// `inTransaction` compiles "BEGIN" and "COMMIT" at every call (~12k instructions
    /// each; a commit under low load, one turn per transaction, paid ~24k for them). The
    /// same rules: an error rolls the transaction back (unless SQLite already did) and
    /// is rethrown; a failed COMMIT too.
    private static func inTransaction<T>(_ kind: Database.TransactionKind, _ db: Database,
                                         _ body: () throws -> T) throws -> T {
        let begin = switch kind {
        case .deferred: "BEGIN DEFERRED TRANSACTION"
        case .immediate: "BEGIN IMMEDIATE TRANSACTION"
        case .exclusive: "BEGIN EXCLUSIVE TRANSACTION"
        }
        try db.cachedStatement(sql: begin).execute()
        do {
            let result = try body()
            try db.cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return result
        } catch {
            if db.isInsideTransaction { try? db.rollback() }
            throw error
        }
    }

    /// Every workflow that is not final (SUBMITTED, RUNNING, STOPPED), with its jobs:
    /// what the broker rebuilds its memory from at start.
    /// Every unfinished workflow, whole; without the SUBMITTED ones when
    /// `includingSubmitted` is false (the broker loads those with `loadSubmitted`).
    public func loadActive(includingSubmitted: Bool = true) throws -> [WorkflowRecord] {
        try readingSnapshot { db in
            let states = includingSubmitted ? "'SUBMITTED', 'RUNNING', 'STOPPED'" : "'RUNNING', 'STOPPED'"
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM workflows WHERE state IN (\(states)) ORDER BY seq")
            return try rows.map { try record(from: $0, db) }
        }
    }

    /// The SUBMITTED workflows by id, owner and expiry only, in submission order: what
    /// a broker needs at start to serve them without holding their specs.
    public func loadSubmitted() throws -> [DormantWorkflow] {
        // Stepped through the C API: a million rows through GRDB's `Row` took most of a
        // restart's time (see `RawStatement`).
        try readingSnapshot { db in
            var out: [DormantWorkflow] = []
            let statement = try db.makeStatement(sql: "SELECT id, owner, expires_at FROM workflows WHERE state = 'SUBMITTED' ORDER BY seq")
            let raw = RawStatement(statement, db)
            try raw.forEachRow { row in
                out.append(DormantWorkflow(id: row.text(0) ?? "", owner: row.text(1), expiresAt: row.int64(2) ?? 0))
            }
            return out
        }
    }

    public func workflow(id: String) throws -> WorkflowRecord? {
        try readingSnapshot { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM workflows WHERE id = ?"), arguments: [id]) else {
                return nil
            }
            return try record(from: row, db)
        }
    }

    /// The workflow stored under an idempotency key. Called for every keyed SUBMIT not
    /// found in memory, so the common miss is one cached, indexed statement, outside a
    /// transaction (one statement sees one commit); a hit reads the record in one.
    public func workflow(idempotencyKey key: String) throws -> WorkflowRecord? {
        let stored = try reading { db in
            let probe = RawStatement(try db.cachedStatement(sql: "SELECT 1 FROM workflows WHERE idempotency_key = ?"), db)
            try probe.bind(1, key)
            return try probe.exists()
        }
        guard stored else { return nil }
        return try readingSnapshot { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM workflows WHERE idempotency_key = ?"), arguments: [key]) else {
                return nil
            }
            return try record(from: row, db)
        }
    }

    /// Calls `body` with every idempotency key stored (the broker builds its key filter
    /// from them at start), after telling `count` how many there are.
    public func forEachIdempotencyKey(count: (Int) -> Void, _ body: (String) -> Void) throws {
        try forEachIdempotencyKey(count: count, utf8: { body(String(decoding: $0, as: UTF8.self)) })
    }

    /// `forEachIdempotencyKey` with each key's UTF-8 bytes, valid during the call only:
    /// stepped through the C API without a String per key (a start reads every key).
    public func forEachIdempotencyKey(count: (Int) -> Void, utf8 body: (UnsafeRawBufferPointer) -> Void) throws {
        try readingSnapshot { db in
            count(try Int.fetchOne(db, sql: "SELECT COUNT(idempotency_key) FROM workflows") ?? 0)
            let statement = try db.makeStatement(sql: "SELECT idempotency_key FROM workflows WHERE idempotency_key IS NOT NULL")
            try RawStatement(statement, db).forEachRow { row in row.bytes(0, body) }
        }
    }

    /// The emergency stops in force, by name ("*" for every name).
    public func loadStops() throws -> [String: StopRecord] {
        try reading { db in
            var stops: [String: StopRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT name, reason, at FROM stops") {
                stops[row["name"]] = StopRecord(reason: row["reason"], at: row["at"])
            }
            return stops
        }
    }

    /// When workflows named `name` started (EXEC), for those started at or after
    /// `since`, oldest first: the broker's start-rate windows are rebuilt from these at
    /// start and on reload, so a restart is never a free burst of starts.
    public func startTimes(name: String, since: Int64) throws -> [Int64] {
        try reading { db in
            try Int64.fetchAll(db, sql: "SELECT started_at FROM workflows WHERE name = ? AND started_at >= ? ORDER BY started_at",
                               arguments: [name, since])
        }
    }

    /// A workflow's state alone.
    public func workflowState(id: String) throws -> WorkflowState? {
        try reading { db in try state(of: id, db) }
    }

    private func state(of id: String, _ db: Database) throws -> WorkflowState? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM workflows WHERE id = ?"), arguments: [id])
            .flatMap(WorkflowState.init(rawValue:))
    }

    /// A page of a workflow's events with `seq > after` and the workflow's state, read
    /// together (a WATCH reply carries both); nil when there is no such workflow. As
    /// values, for tools and tests: the broker answers WATCH with `eventsReply`, whose
    /// bytes are this page's written out (tests hold them to it).
    public func eventsPage(workflowId: String, after: Int64, limit: Int) throws
        -> (state: WorkflowState, owner: String?, events: [WorkflowEvent])? {
        try readingSnapshot { db in
            // Bound and read through the C API (`RawStatement`): GRDB's rows cost more
            // than SQLite's own work for these two small reads (a WATCH answer each).
            guard let found = try probe(workflowId, db), let state = found.state else { return nil }
            return (state, found.owner, try events(workflowId, found, after: after, limit: limit, db))
        }
    }

    /// WATCH's EVENTS reply for `workflowId` with its events after `after` (at most
    /// `limit`), as bytes: those of `WorkflowEvent.eventsReplyBytes` over `eventsPage`,
    /// with the stored events' fields copied, not parsed and written again
    /// (`FoldedEvents.writeReply`); and the workflow's owner, which the caller checks.
    /// nil when there is no such workflow.
    public func eventsReply(workflowId: String, after: Int64, limit: Int) throws -> (owner: String?, bytes: [UInt8])? {
        try readingSnapshot { db in
            guard let found = try probe(workflowId, db), let state = found.state else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(64 + workflowId.utf8.count + 160 * min(limit, 16))
            WorkflowEvent.beginEventsReply(into: &out)
            var written = 0
            var implied = after < 1 && limit > 0  // still to write, before the first row that does not hold seq 1
            func writeImplied() {
                implied = false
                FoldedEvents.implied(name: found.name, submittedAt: found.submittedAt).writeJSON(into: &out)
                written += 1
            }
            try forEachEventRow(key: found.key, after: after, limit: limit, db) { first, last, data in
                if implied { if first == 1 { implied = false } else { writeImplied() } }
                try FoldedEvents.writeReply(data, workflowId: workflowId, first: first, last: last, after: after,
                                            limit: limit, written: &written, into: &out)
            }
            if implied { writeImplied() }
            WorkflowEvent.endEventsReply(id: workflowId, state: state, into: &out)
            return (found.owner, out)
        }
    }

    /// What the event readers need of a workflow's row: its seq (the events' key), state
    /// and owner, and the name and submission time its implied first event is made of.
    private struct Probed {
        let key: Int64
        let state: WorkflowState?
        let owner: String?
        let name: String
        let submittedAt: Int64
    }

    /// The workflow's `Probed` columns (nil: no such workflow).
    private func probe(_ workflowId: String, _ db: Database) throws -> Probed? {
        let probe = RawStatement(try db.cachedStatement(sql: "SELECT seq, state, owner, name, submitted_at FROM workflows WHERE id = ?"), db)
        try probe.bind(1, workflowId)
        var found: Probed?
        try probe.forEachRow { row in
            found = Probed(key: row.int64(0) ?? 0, state: row.text(1).flatMap(WorkflowState.init(rawValue:)), owner: row.text(2),
                           name: row.text(3) ?? "", submittedAt: row.int64(4) ?? 0)
        }
        return found
    }

    /// Events of a workflow with `seq > after`, oldest first, at most `limit`.
    public func events(workflowId: String, after: Int64, limit: Int) throws -> [WorkflowEvent] {
        try readingSnapshot { db in
            guard let found = try probe(workflowId, db) else { return [] }
            return try events(workflowId, found, after: after, limit: limit, db)
        }
    }

    /// Unpacks the folded rows (FoldedEvents) from the one holding event `after` (the
    /// greatest `seq` ≤ `after`; it may hold `after + 1` too) on, after the implied first
    /// event when `after` is below it and no row holds seq 1. `limit` rows hold at least
    /// `limit` events after `after`: every row read ends after it.
    private func events(_ workflowId: String, _ found: Probed, after: Int64, limit: Int, _ db: Database) throws -> [WorkflowEvent] {
        var events: [WorkflowEvent] = []
        var implied = after < 1 && limit > 0
        let first = FoldedEvents.implied(name: found.name, submittedAt: found.submittedAt)
        try forEachEventRow(key: found.key, after: after, limit: limit, db) { from, last, data in
            if implied {
                implied = false
                if from != 1 { events.append(first) }
            }
            for e in try FoldedEvents.read(data, workflowId: workflowId, first: from, last: last)
            where e.seq > after && events.count < limit {
                events.append(e)
            }
        }
        if implied { events.append(first) }
        return events
    }

    /// Calls `body` with each folded row `(first, last, data)` of workflow `key` that may
    /// hold events after `after`, oldest first: `limit` rows hold at least `limit` of
    /// them, as every row read ends after `after`. `data` is valid during the call only.
    private func forEachEventRow(key: Int64, after: Int64, limit: Int, _ db: Database,
                                 _ body: (Int64, Int64, UnsafeRawBufferPointer) throws -> Void) throws {
        guard limit > 0 else { return }
        let rows = RawStatement(try db.cachedStatement(sql: """
            SELECT seq, last, data FROM events
            WHERE workflow = ?1 AND last > ?2
              AND seq >= COALESCE((SELECT MAX(seq) FROM events WHERE workflow = ?1 AND seq <= ?2), 0)
            ORDER BY seq LIMIT ?3
            """), db)
        try rows.bind(1, key)
        try rows.bind(2, after)
        try rows.bind(3, limit)
        try rows.forEachRow { row in
            try row.bytes(2) { data in try body(row.int64(0) ?? 0, row.int64(1) ?? 0, data) }
        }
    }

    /// A page of workflows, newest first, filtered by state and name; `before` is the id
    /// of the last workflow of the previous page.
    public func list(_ q: ListRequest) throws -> (workflows: [WorkflowSummary], next: String?) {
        try reading { db in
            // One SQL text per combination of filters (16 at most), so GRDB's statement
            // cache keeps each compiled; bound and read by column number through
            // `RawStatement`. Dashboards and tools poll LIST: compiling the query and
            // looking columns up by name each time was 30k instructions per call.
            let (sql, texts) = Self.listQuery(q)
            let stmt = RawStatement(try db.cachedStatement(sql: sql), db)
            for (i, text) in texts.enumerated() { try stmt.bind(Int32(i + 1), text) }
            try stmt.bind(Int32(texts.count + 1), q.limit + 1)
            var out: [WorkflowSummary] = []
            var more = false
            try stmt.forEachRow { row in
                guard out.count < q.limit else { more = true; return }
                let stateText = row.text(2) ?? "NULL"
                guard let state = WorkflowState(rawValue: stateText) else { throw StoreError.corrupt("state \(stateText)") }
                guard let id = row.text(0), let name = row.text(1), let submittedAt = row.int64(4) else {
                    throw StoreError.corrupt("a workflows row with a NULL id, name or submitted_at")
                }
                out.append(WorkflowSummary(id: id, name: name, state: state, reason: row.text(3),
                                           submittedAt: submittedAt, startedAt: row.int64(5),
                                           finishedAt: row.int64(6), owner: row.text(7)))
            }
            return (out, more ? out.last?.id : nil)
        }
    }

    /// The SQL of a LIST and the texts it binds, in order (the page size comes last).
    ///
    /// A filter on an unsettled state (SUBMITTED, RUNNING, STOPPED) reads
    /// `workflows_by_state`, named: those sets stay small (quotas, running limits), while
    /// a name's or an owner's workflows grow with all history. Without statistics SQLite
    /// picked `workflows_by_name` for `name = ? AND state = ?` and walked every workflow
    /// of that name newest first: with 200,000 finished workflows of one name, one
    /// "any SUBMITTED left?" poll took 55 ms on the event loop instead of 0.01 ms. With a
    /// final state the planner still chooses (a name's FAILED may be fewer than all
    /// FAILED, or not). Named here rather than left to `ANALYZE`: its statistics give
    /// rows per index key on average, which cannot tell that SUBMITTED is always few
    /// while SUCCEEDED grows without end.
    static func listQuery(_ q: ListRequest) -> (sql: String, texts: [String]) {
        var sql = "SELECT id, name, state, reason, submitted_at, started_at, finished_at, owner FROM workflows"
        if let s = q.state, !s.isFinal { sql += " INDEXED BY workflows_by_state" }
        sql += " WHERE 1"
        var texts: [String] = []
        if let o = q.owner { sql += " AND owner = ?"; texts.append(o) }
        if let s = q.state { sql += " AND state = ?"; texts.append(s.rawValue) }
        if let n = q.name { sql += " AND name = ?"; texts.append(n) }
        if let b = q.before {
            sql += " AND seq < (SELECT seq FROM workflows WHERE id = ?)"
            texts.append(b)
        }
        sql += " ORDER BY seq DESC LIMIT ?"
        return (sql, texts)
    }

    /// SQLite's plan for the LIST `q` (the `detail` column of EXPLAIN QUERY PLAN, one line
    /// per step), for tests: which index a filter reads.
    func listPlan(_ q: ListRequest) throws -> [String] {
        let (sql, texts) = Self.listQuery(q)
        return try reading { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(texts + ["1"]))
                .map { $0["detail"] }
        }
    }

    // MARK: Retention and backup

    /// Deletes up to `limit` final workflows that finished before `cutoff` (ms since the
    /// epoch), oldest first, with their jobs and events (ON DELETE CASCADE), in one
    /// transaction, `chunk` workflows per statement; after each chunk `more()` decides
    /// whether to go on (the committer stops when a turn is waiting or its time is up).
    /// Returns how many it deleted, and whether that was all there were.
    ///
    /// Their idempotency keys go with them: a later SUBMIT with such a key makes a new
    /// workflow (spec §10.3). The freed pages go to SQLite's freelist and are reused by
    /// later inserts, so at a steady load the file stops growing (it does not shrink;
    /// `VACUUM` offline, or `baton backup`, which writes a compact copy, does that).
    @discardableResult
    public func deleteFinished(before cutoff: Int64, limit: Int, chunk: Int? = nil,
                               while more: () -> Bool = { true }) throws -> (deleted: Int, noneLeft: Bool) {
        var result = (deleted: 0, noneLeft: false)
        try workflowKeys.withLock { keys in
            do {
                try db.inDatabase { db in
                    try Self.inTransaction(.immediate, db) {
                        result = try deleteFinished(before: cutoff, limit: limit, chunk: max(1, chunk ?? limit), db, &keys, while: more)
                    }
                }
            } catch {
                keys.removeAll()
                throw error
            }
        }
        return result
    }

    private func deleteFinished(before cutoff: Int64, limit: Int, chunk: Int, _ db: Database, _ keys: inout WorkflowIdMap<Int64>,
                                while more: () -> Bool) throws -> (deleted: Int, noneLeft: Bool) {
        let expired = try db.cachedStatement(sql: """
            SELECT seq, id FROM workflows INDEXED BY workflows_by_finish
            WHERE finished_at IS NOT NULL AND finished_at < ?
              AND (state = 'SUCCEEDED' OR state = 'FAILED' OR state = 'CANCELLED' OR state = 'EXPIRED')
            ORDER BY finished_at LIMIT ?
            """)
        // Children first, explicitly: the broker's connection does not enforce the foreign
        // keys, so `ON DELETE CASCADE` does not run there (see `init`).
        let events = RawStatement(try db.cachedStatement(sql: "DELETE FROM events WHERE workflow = ?"), db)
        let jobs = RawStatement(try db.cachedStatement(sql: "DELETE FROM jobs WHERE workflow = ?"), db)
        let workflow = RawStatement(try db.cachedStatement(sql: "DELETE FROM workflows WHERE seq = ?"), db)
        var deleted = 0, noneLeft = false
        while deleted < limit {
            let asked = min(chunk, limit - deleted)
            let rows = try Row.fetchAll(expired, arguments: [cutoff, asked])
            for row in rows {
                let seq: Int64 = row["seq"]
                // Before the delete: a seq SQLite gives again must not map to this id.
                keys[row["id"] as String] = nil
                try events.bind(1, seq)
                _ = try events.run()
                try jobs.bind(1, seq)
                _ = try jobs.run()
                try workflow.bind(1, seq)
                _ = try workflow.run()
            }
            deleted += rows.count
            noneLeft = rows.count < asked
            if noneLeft || !more() { break }
        }
        return (deleted, noneLeft)
    }

    /// Writes a consistent, compact copy of the database to `path` (`VACUUM INTO`: one
    /// read transaction, so it sees one commit, and writes no WAL of its own), then
    /// fsyncs it. Refuses an existing file. Returns the copy's size in bytes.
    ///
    /// On a `.reader` beside the broker's connection it runs while the broker commits
    /// (WAL readers do not block the writer), so backing up stalls no turn.
    public func backup(to path: String) throws -> Int64 {
        guard !FileManager.default.fileExists(atPath: path) else { throw StoreError.locked("\(path) exists; a backup never overwrites") }
        try db.inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [path]) }
        return try Self.fsync(path)
    }

    /// fsyncs a file and its directory (so the new name survives a crash); its size.
    static func fsync(_ path: String) throws -> Int64 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError.locked("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        var info = stat()
        guard Glibc.fsync(fd) == 0, fstat(fd, &info) == 0 else { throw StoreError.locked("cannot fsync \(path): \(String(cString: strerror(errno)))") }
        let directory = (path as NSString).deletingLastPathComponent
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dfd >= 0 {
            _ = Glibc.fsync(dfd)
            Glibc.close(dfd)
        }
        return Int64(info.st_size)
    }

    /// The database file's size in bytes (pages × page size), and its free pages.
    public func fileSize() throws -> (bytes: Int64, freePages: Int) {
        try reading { db in
            let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            let size = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
            return (pages * size, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0)
        }
    }

    /// The schema version the file is at (`PRAGMA user_version`, set by the migrations).
    public func schemaVersion() throws -> Int {
        try reading { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
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

    /// "ok" when the file is sound: `PRAGMA integrity_check`'s answer, and when that is
    /// "ok", `PRAGMA foreign_key_check`'s (which runs whether or not the connection
    /// enforces the keys): job and event rows whose workflow is missing, counted by table.
    public func integrityCheck() throws -> String {
        try reading { db in
            let pages = try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? "no answer"
            guard pages == "ok" else { return pages }
            let orphans = try Row.fetchAll(db, sql: "SELECT \"table\" AS t, COUNT(*) AS n FROM pragma_foreign_key_check GROUP BY 1 ORDER BY 1")
            if orphans.isEmpty { return "ok" }
            return orphans.map { "\($0["n"] as Int) \($0["t"] as String) rows without their workflow" }.joined(separator: ", ")
        }
    }

    private func record(from row: Row, _ db: Database) throws -> WorkflowRecord {
        let id: String = row["id"]
        let specText: String = row["spec"]
        let spec = try WorkflowSpec.parse(jsonText: specText)
        let stateText: String = row["state"]
        guard let state = WorkflowState(rawValue: stateText) else { throw StoreError.corrupt("workflow \(id) state \(stateText)") }
        // Every job starts untouched; the rows fill in those that were written (a job has
        // none before its first change, see `insert`).
        var jobs = spec.blocks.map { Array(repeating: JobRecord(), count: $0.jobs.count) }
        // Read by column number through `RawStatement`, each output parsed straight from
        // SQLite's bytes: GRDB's rows looked every column up by name (lowercasing it) and
        // copied each output into a String first, 40k instructions per job when STATUS
        // read a finished 10,000-job workflow back.
        let jobRows = RawStatement(try db.cachedStatement(sql: """
            SELECT block, idx, state, attempt, output, error, started_at, finished_at, retry_at, stopped_attempts
            FROM jobs WHERE workflow = ?
            """), db)
        try jobRows.bind(1, row["seq"] as Int64)
        try jobRows.forEachRow { j in
            guard let b64 = j.int64(0), let i64 = j.int64(1), b64 >= 0, i64 >= 0,
                  let b = Int(exactly: b64), let i = Int(exactly: i64), b < jobs.count, i < jobs[b].count
            else { throw StoreError.corrupt("job \(id).\(j.int64(0).map(String.init) ?? "NULL").\(j.int64(1).map(String.init) ?? "NULL") outside its spec") }
            let js = j.text(2) ?? "NULL"
            guard let jobState = JobState(rawValue: js) else { throw StoreError.corrupt("job state \(js)") }
            var output: JSONText?
            if j.isNull(4) == false {
                do { output = try j.bytes(4) { try JSONText(parsing: $0) } } catch {
                    throw StoreError.corrupt("job \(id).\(b).\(i) output: \(error)")
                }
            }
            jobs[b][i] = JobRecord(
                state: jobState, attempt: Int(j.int64(3) ?? 0),
                error: j.text(5), startedAt: j.int64(6), finishedAt: j.int64(7), retryAt: j.int64(8),
                stoppedAttempts: Int(j.int64(9) ?? 0))
            jobs[b][i].outputText = output
        }
        let seq: Int64 = row["seq"]
        let stored: Int64 = row["last_event"]
        var currentBlock: Int = row["current_block"]
        // An unfinished workflow's `current_block` may lag behind its newest
        // `block.started` (`Engine.startBlock`), and its `last_event` behind its newest
        // event (`Engine.emit`); a final one's columns are exact (its last write is the
        // one that finished it).
        let read = try readJobEvents(seq, id, into: &jobs, seekingBlock: !state.isFinal, db)
        if let b = read.startedBlock { currentBlock = max(currentBlock, b) }
        let lastEvent = state.isFinal ? stored : max(stored, read.newest)
        return WorkflowRecord(
            id: id, spec: spec, idempotencyKey: row["idempotency_key"], owner: row["owner"], state: state, reason: row["reason"],
            currentBlock: currentBlock, submittedAt: row["submitted_at"], startedAt: row["started_at"],
            finishedAt: row["finished_at"], expiresAt: row["expires_at"],
            lastEvent: lastEvent, jobs: jobs)
    }

    /// Reads into `jobs` what a workflow's events say of them, and returns the seq of its
    /// newest event (0 without events).
    ///
    /// A dispatch and a success write no job row: their events, in the same commit, say
    /// what changed (`Engine.dispatch`, `Engine.succeed`), and a success's output is
    /// stored with its event (`outputs`). Every other change to a job (a retry, a failure,
    /// a cancel, a stop) writes the job's row and its `job.*` event in one commit. So a
    /// job whose newest `job.*` event (PROGRESS's aside, which change no row) is its
    /// dispatch is running that attempt, started then; one whose newest is its success
    /// has succeeded, started at that attempt's dispatch; any other is as its row says.
    /// A row of the same attempt or a later one, or a final one, is never older than the
    /// event (rows a v8 broker wrote at dispatch and success say the same as the events).
    ///
    /// Folded rows never overlap and rise with `seq`, so the first row read (one step down
    /// the primary key) holds the newest event. Reads the log newest first and stops
    /// once every job is settled (and, when
    /// `seekingBlock`, the newest `block.started` is found, whose block it returns): a
    /// finished one-job workflow reads its two rows (EXEC's and the result's).
    private func readJobEvents(_ workflow: Int64, _ id: String, into jobs: inout [[JobRecord]], seekingBlock: Bool,
                               _ db: Database) throws -> (newest: Int64, startedBlock: Int?) {
        /// What the pass knows of a job so far: nothing yet, all of it, or all but the
        /// start of the succeeded attempt, whose dispatch is still to come.
        enum Seen { case nothing, settled, startOf(attempt: Int) }
        var offset: [Int] = []  // a block's first job's index in `seen`
        var total = 0
        for b in jobs.indices { offset.append(total); total += jobs[b].count }
        var seen = [Seen](repeating: .nothing, count: total)
        var open = total  // jobs not settled yet
        var newest: Int64 = 0
        var startedBlock: Int?
        var seeking = seekingBlock

        // An event that names no job of the spec, or a dispatch or success without its
        // attempt (none a broker wrote), says nothing of a job: the rows stand.
        func apply(_ e: WorkflowEvent, outputs: [Int64: JSONText]) {
            guard let b64 = e.fields["block"]?.intValue, let j64 = e.fields["job"]?.intValue,
                  let b = Int(exactly: b64), let j = Int(exactly: j64), jobs.indices.contains(b), jobs[b].indices.contains(j)
            else { return }
            let n = offset[b] + j
            let attempt = e.fields["attempt"]?.intValue.flatMap { Int(exactly: $0) }
            switch seen[n] {
            case .settled:
                return
            case .startOf(let sought):
                guard e.kind == .jobDispatched, attempt == sought else { return }
                jobs[b][j].startedAt = e.at
                seen[n] = .settled
                open -= 1
                return
            case .nothing:
                break
            }
            seen[n] = .settled
            let row = jobs[b][j]
            guard e.kind == .jobDispatched || e.kind == .jobSucceeded, let attempt, attempt >= 1,
                  !row.state.isFinal, attempt >= row.attempt
            else { open -= 1; return }
            if e.kind == .jobDispatched {
                jobs[b][j].dispatch(attempt: attempt, at: e.at)
                open -= 1
                return
            }
            jobs[b][j].attempt = attempt
            jobs[b][j].retryAt = nil
            jobs[b][j].succeed(output: outputs[e.seq], at: e.at)
            if row.state == .running && row.attempt == attempt {
                open -= 1  // a v8 dispatch row: its start is the attempt's
            } else {
                jobs[b][j].startedAt = nil
                seen[n] = .startOf(attempt: attempt)
            }
        }

        let rows = RawStatement(try db.cachedStatement(sql: "SELECT seq, last, data, outputs FROM events WHERE workflow = ? ORDER BY seq DESC"), db)
        try rows.bind(1, workflow)
        try rows.stepRows(while: { row in
            let first = row.int64(0) ?? 0, last = row.int64(1) ?? 0
            newest = max(newest, last)
            let outputs = try row.isNull(3) ? [:] : row.bytes(3) { try FoldedEvents.readOutputs($0, workflowId: id, first: first, last: last) }
            for e in try row.bytes(2, { try FoldedEvents.read($0, workflowId: id, first: first, last: last) }).reversed() {
                switch e.kind {
                case .jobProgress: continue
                case .jobDispatched, .jobSucceeded, .jobRetrying, .jobFailed, .jobCancelled, .jobStopped:
                    apply(e, outputs: outputs)
                case .blockStarted where seeking:
                    startedBlock = e.fields["block"]?.intValue.flatMap { Int(exactly: $0) }
                    seeking = false
                default: continue
                }
                if open == 0 && !seeking { return false }
            }
            return open > 0 || seeking
        })
        return (newest, startedBlock)
    }
}

/// Failures of the store beyond SQLite's own errors.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// A stored row breaks an invariant the schema could not express.
    case corrupt(String)
    /// The database is owned by another process, or cannot be opened as asked.
    case locked(String)
    /// A newer baton migrated the file to this schema version (its
    /// `PRAGMA user_version`), beyond `Schema.currentVersion`.
    case newerSchema(Int)

    public var description: String {
        switch self {
        case .corrupt(let what): "corrupt store: \(what)"
        case .locked(let what): "store unavailable: \(what)"
        case .newerSchema(let version):
            "store unavailable: its schema is version \(version), newer than this baton's \(Schema.currentVersion); open it with the baton that wrote it (migrations only run forward)"
        }
    }
}
