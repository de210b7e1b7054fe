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

    func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard var value else {
            sqlite3_bind_null(handle, index)
            return
        }
        value.withUTF8 { bindText(index, UnsafeRawBufferPointer($0)) }
    }

    func bind(_ index: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBytes { bindText(index, $0) }
    }

    private static let empty: [CChar] = [0]

    private func bindText(_ index: Int32, _ buffer: UnsafeRawBufferPointer) {
        if let base = buffer.baseAddress, buffer.count > 0 {
            sqlite3_bind_text(handle, index, base.assumingMemoryBound(to: CChar.self), Int32(buffer.count), Self.transient)
        } else {
            // An empty string is text, not NULL: bind a static empty C string.
            Self.empty.withUnsafeBufferPointer { sqlite3_bind_text(handle, index, $0.baseAddress, 0, Self.transient) }
        }
    }

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

    private func failure(_ rc: Int32) -> DatabaseError {
        DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(connection)))
    }
}
