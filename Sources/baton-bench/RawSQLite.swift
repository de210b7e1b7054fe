import Foundation
import Histogram

#if canImport(Glibc)
import Glibc
#endif

/// SQLite's C API, looked up at run time in the libsqlite3 this process already loaded
/// (BatonStore links it through GRDB). The bench target has no SQLite module of its own;
/// this measures the library itself, with no GRDB or BatonStore in between.
struct RawSQLite {
    typealias Open = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?, Int32, UnsafePointer<CChar>?) -> Int32
    typealias Exec = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, OpaquePointer?, OpaquePointer?, OpaquePointer?) -> Int32
    typealias Prepare = @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int32, UnsafeMutablePointer<OpaquePointer?>?, OpaquePointer?) -> Int32
    typealias StatementCall = @convention(c) (OpaquePointer?) -> Int32
    typealias ErrMsg = @convention(c) (OpaquePointer?) -> UnsafePointer<CChar>?
    typealias Version = @convention(c) () -> UnsafePointer<CChar>?

    let open: Open
    let exec: Exec
    let prepare: Prepare
    let step: StatementCall
    let reset: StatementCall
    let finalize: StatementCall
    let close: StatementCall
    let errmsg: ErrMsg
    let version: String

    static func load() throws -> RawSQLite {
        var handle: UnsafeMutableRawPointer? = nil  // RTLD_DEFAULT: the symbols already loaded
        if dlsym(handle, "sqlite3_open_v2") == nil { handle = dlopen("libsqlite3.so.0", RTLD_NOW) }
        func sym<T>(_ name: String, _: T.Type) throws -> T {
            guard let p = dlsym(handle, name) else { throw BenchError("libsqlite3: no symbol \(name)") }
            return unsafeBitCast(p, to: T.self)
        }
        let v = try sym("sqlite3_libversion", Version.self)
        return RawSQLite(
            open: try sym("sqlite3_open_v2", Open.self), exec: try sym("sqlite3_exec", Exec.self),
            prepare: try sym("sqlite3_prepare_v2", Prepare.self), step: try sym("sqlite3_step", StatementCall.self),
            reset: try sym("sqlite3_reset", StatementCall.self), finalize: try sym("sqlite3_finalize", StatementCall.self),
            close: try sym("sqlite3_close_v2", StatementCall.self), errmsg: try sym("sqlite3_errmsg", ErrMsg.self),
            version: v().map { String(cString: $0) } ?? "unknown")
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
    let api = try RawSQLite.load()
    var db: OpaquePointer?
    let path = "\(dir)/raw-\(synchronous.lowercased()).db"
    // SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
    guard api.open(path, &db, 0x2 | 0x4, nil) == 0, db != nil else { throw BenchError("sqlite3_open_v2 \(path) failed") }
    defer { _ = api.close(db) }
    func run(_ sql: String) throws {
        guard api.exec(db, sql, nil, nil, nil) == 0 else {
            throw BenchError("SQLite: \(sql): \(api.errmsg(db).map { String(cString: $0) } ?? "?")")
        }
    }
    func prepare(_ sql: String) throws -> OpaquePointer? {
        var stmt: OpaquePointer?
        guard api.prepare(db, sql, -1, &stmt, nil) == 0 else {
            throw BenchError("SQLite: prepare \(sql): \(api.errmsg(db).map { String(cString: $0) } ?? "?")")
        }
        return stmt
    }
    func once(_ stmt: OpaquePointer?) throws {
        let rc = api.step(stmt)
        _ = api.reset(stmt)
        guard rc == 101 /* SQLITE_DONE */ else { throw BenchError("SQLite: step returned \(rc): \(api.errmsg(db).map { String(cString: $0) } ?? "?")") }
    }
    try run("PRAGMA journal_mode = WAL")
    try run("PRAGMA synchronous = \(synchronous)")
    try run("CREATE TABLE rows (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    let begin = try prepare("BEGIN IMMEDIATE")
    let commit = try prepare("COMMIT")
    let insert = try prepare("INSERT INTO rows (payload) VALUES (hex(randomblob(64)))")
    defer {
        _ = api.finalize(begin)
        _ = api.finalize(commit)
        _ = api.finalize(insert)
    }

    func timed(_ rowsPerCommit: Int, _ h: inout Histogram<UInt64>) throws -> Double {
        var rows = 0
        let start = nowNs()
        let end = start + UInt64(secondsEach * 1e9)
        var now = start
        while now < end {
            let t0 = now
            try once(begin)
            for _ in 0..<rowsPerCommit { try once(insert) }
            try once(commit)
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
    return RawSQLiteLimits(version: api.version, synchronous: synchronous, singleRowCommitsPerSecond: singleRate,
                           singleRowLatency: single, batchedRowsPerSecond: batched)
}
