import GRDB
import GRDBSQLite

/// A prepared statement driven through the SQLite C API directly: bind, step, reset.
///
/// Why not GRDB's `Statement.execute(arguments:)` on the broker's write path: it boxes
/// every argument in `DatabaseValue`, runs an authorizer and tracks the statement's
/// region, which the profile showed costing more than SQLite's own work per row. GRDB
/// still owns the connection and prepares the statement (`cachedStatement`), so its
/// lifecycle stays GRDB's; only binding and stepping bypass it.
struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer?

    init(_ statement: Statement, _ db: Database) {
        handle = statement.sqliteStatement
        connection = db.sqliteConnection
    }

    /// SQLite must copy bound text: the Swift buffers do not outlive the call.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    // Every bind checks SQLite's answer: a bad index (a statement and its binds out of
    // step), SQLITE_TOOBIG or SQLITE_NOMEM would otherwise leave the previous row's value
    // bound, and the row would be written with it.

    func bind(_ index: Int32, _ value: Int64) throws { try check(sqlite3_bind_int64(handle, index, value)) }
    func bind(_ index: Int32, _ value: Int) throws { try check(sqlite3_bind_int64(handle, index, Int64(value))) }

    func bind(_ index: Int32, _ value: String?) throws {
        guard var value else { return try check(sqlite3_bind_null(handle, index)) }
        try value.withUTF8 { try bindText(index, UnsafeRawBufferPointer($0)) }
    }

    private static let empty: [CChar] = [0]

    private func bindText(_ index: Int32, _ buffer: UnsafeRawBufferPointer) throws {
        if let base = buffer.baseAddress, buffer.count > 0 {
            guard buffer.count <= Int32.max else { throw failure(SQLITE_TOOBIG) }
            try check(sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(buffer.count), Self.transient))
        } else {
            // An empty string is text, not NULL: bind a static empty C string.
            try Self.empty.withUnsafeBufferPointer { try check(sqlite3_bind_text(handle, index, $0.baseAddress, 0, Self.transient)) }
        }
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK else { throw failure(rc) }
    }

    /// Binds `args` to the statement's parameters, all of them, and runs it as `run()`.
    ///
    /// Text is bound `SQLITE_STATIC`, pointing into `args.bytes`, which lives only for
    /// this call: the bindings are cleared before it returns (success or not), so no
    /// later step can read a dangling pointer. A count that differs from the statement's
    /// parameters is refused before anything runs: with the bindings cleared, a missing
    /// argument would otherwise be written as NULL.
    @discardableResult
    func run(_ args: RowArguments) throws -> Int {
        guard Int(sqlite3_bind_parameter_count(handle)) == args.values.count else { throw failure(SQLITE_RANGE) }
        return try args.bytes.withUnsafeBufferPointer { buffer in
            defer { sqlite3_clear_bindings(handle) }
            for (n, value) in args.values.enumerated() {
                let index = Int32(n + 1)
                switch value {
                case .null:
                    try check(sqlite3_bind_null(handle, index))
                case .int(let v):
                    try check(sqlite3_bind_int64(handle, index, v))
                case .text(let start, let count):
                    guard count <= Int32.max else { throw failure(SQLITE_TOOBIG) }
                    // An empty string is text, not NULL: a static empty C string.
                    let text = count == 0 ? Self.emptyText : UnsafeRawPointer(buffer.baseAddress! + start).assumingMemoryBound(to: CChar.self)
                    try check(sqlite3_bind_text(handle, index, text, Int32(count), nil))  // nil: SQLITE_STATIC
                }
            }
            return try run()
        }
    }

    /// A NUL byte that lives as long as the process, for empty text bound `SQLITE_STATIC`.
    private nonisolated(unsafe) static let emptyText: UnsafePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        p.initialize(to: 0)
        return UnsafePointer(p)
    }()

    /// The rowid of the last row this connection inserted (`sqlite3_last_insert_rowid`).
    var lastInsertedRowid: Int64 { sqlite3_last_insert_rowid(connection) }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    func run() throws -> Int {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        guard rc == SQLITE_DONE else { throw failure(rc) }
        return Int(sqlite3_changes(connection))
    }

    /// Runs a query and returns whether it produced a row.
    func exists() throws -> Bool {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        guard rc == SQLITE_DONE else { throw failure(rc) }
        return false
    }

    /// The current row of a query being stepped (valid inside `forEachRow`'s body only).
    struct Row {
        let handle: OpaquePointer

        func text(_ column: Int32) -> String? {
            guard let bytes = sqlite3_column_text(handle, column) else { return nil }
            let count = Int(sqlite3_column_bytes(handle, column))
            return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }

        /// The column's text bytes, valid inside `body` only (empty for NULL).
        func bytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
            let count = Int(sqlite3_column_bytes(handle, column))
            return try body(UnsafeRawBufferPointer(start: sqlite3_column_text(handle, column), count: count))
        }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

        func int64(_ column: Int32) -> Int64? {
            sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
        }
    }

    /// Steps a query to its end, handing each row to `body`.
    func forEachRow(_ body: (Row) throws -> Void) throws {
        try stepRows(while: { row in
            try body(row)
            return true
        })
    }

    /// Steps a query, handing each row to `body`, until `body` returns false or the
    /// rows end.
    func stepRows(while body: (Row) throws -> Bool) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw failure(rc) }
            guard try body(Row(handle: handle)) else { return }
        }
    }

    private func failure(_ rc: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(connection)))
    }
}
