import GRDBSQLite
import Histogram

/// One SQLite connection driven through the C API (GRDB's `GRDBSQLite` module: the same
/// libsqlite3 that BatonStore links), with no GRDB or BatonStore in between, so the bench
/// measures the library itself. Every `sqlite3_*` return code is checked; a failure
/// throws with SQLite's message.
///
/// Owned by one thread, like the SQLite connection it wraps (not `Sendable`).
final class RawSQLite {
    /// nil once closed.
    private var db: OpaquePointer?
    /// Prepared here, finalized by `close()` (or `deinit`) before the connection closes.
    private var statements: [OpaquePointer] = []

    static var version: String { String(cString: sqlite3_libversion()) }

    init(path: String) throws {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let handle else {
            // sqlite3_open_v2 may hand back a connection even when it fails; it must be closed.
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(handle)
            throw BenchError("sqlite3_open_v2 \(path): \(message) (\(rc))")
        }
        db = handle
    }

    /// Only reached open when a measurement threw: cleanup is best effort there, because
    /// that first error is the one worth reporting.
    deinit {
        for statement in statements { sqlite3_finalize(statement) }
        if let db { sqlite3_close_v2(db) }
    }

    func exec(_ sql: String) throws {
        try check(sqlite3_exec(db, sql, nil, nil, nil), sql)
    }

    func prepare(_ sql: String) throws -> OpaquePointer {
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(db, sql, -1, &statement, nil), "prepare \(sql)")
        guard let statement else { throw BenchError("SQLite: prepare \(sql): no statement (empty SQL?)") }
        statements.append(statement)
        return statement
    }

    /// Runs a statement that returns no rows, then resets it for the next run.
    func run(_ statement: OpaquePointer) throws {
        let rc = sqlite3_step(statement)
        guard rc == SQLITE_DONE else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_reset(statement)
            throw BenchError("SQLite: step returned \(rc): \(message)")
        }
        try check(sqlite3_reset(statement), "reset")
    }

    /// Finalizes the statements and closes; `sqlite3_close` (not `_v2`) refuses with
    /// SQLITE_BUSY if a statement was left unfinalized, so a leak shows here.
    func close() throws {
        guard let db else { return }
        let pending = statements
        statements = []
        for statement in pending { try check(sqlite3_finalize(statement), "finalize") }
        try check(sqlite3_close(db), "close")
        self.db = nil
    }

    private func check(_ rc: Int32, _ what: @autoclosure () -> String) throws {
        guard rc == SQLITE_OK else {
            throw BenchError("SQLite: \(what()): \(db.map { String(cString: sqlite3_errmsg($0)) } ?? "?") (\(rc))")
        }
    }
}

struct RawSQLiteLimits {
    var version: String
    var synchronous: String
    var singleRowCommitsPerSecond: Double
    var singleRowLatency: Histogram<UInt64>
    var batchedRowsPerSecond: Double
}

/// Commits per second on a fresh file in `dir`: WAL, the given `synchronous`, one
/// prepared INSERT of a ~150-byte row, in single-row transactions and in 1000-row ones.
func measureRawSQLite(dir: String, synchronous: String, secondsEach: Double) throws -> RawSQLiteLimits {
    let db = try RawSQLite(path: "\(dir)/raw-\(synchronous.lowercased()).db")
    try db.exec("PRAGMA journal_mode = WAL")
    try db.exec("PRAGMA synchronous = \(synchronous)")
    try db.exec("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    let begin = try db.prepare("BEGIN IMMEDIATE")
    let commit = try db.prepare("COMMIT")
    let insert = try db.prepare("INSERT INTO rows (payload) VALUES (hex(randomblob(64)))")

    func timed(_ rowsPerCommit: Int, _ h: inout Histogram<UInt64>) throws -> Double {
        var rows = 0
        let start = nowNs()
        let end = start + UInt64(secondsEach * 1e9)
        var now = start
        while now < end {
            let t0 = now
            try db.run(begin)
            for _ in 0..<rowsPerCommit { try db.run(insert) }
            try db.run(commit)
            now = nowNs()
            h.record((now - t0) / 1000)
            rows += rowsPerCommit
        }
        return Double(rows) / (Double(now - start) / 1e9)
    }
    var single = latencyHistogram()
    var scratch = latencyHistogram()
    let singleRate = try timed(1, &single)
    let batched = try timed(1000, &scratch)
    try db.close()
    return RawSQLiteLimits(version: RawSQLite.version, synchronous: synchronous, singleRowCommitsPerSecond: singleRate,
                           singleRowLatency: single, batchedRowsPerSecond: batched)
}
