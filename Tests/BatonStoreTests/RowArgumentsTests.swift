import BatonWire
import GRDB
import XCTest

@testable import BatonStore

/// `RawStatement.run(_:)` with `RowArguments`: text bound in place, bindings cleared after.
final class RowArgumentsTests: XCTestCase {
    private func withTable(_ body: (Database) throws -> Void) throws {
        let queue = try DatabaseQueue()
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (a, b, c, d, e)")
            try body(db)
        }
    }

    private func rows(_ db: Database) throws -> [[DatabaseValue]] {
        try Row.fetchAll(db, sql: "SELECT a, b, c, d, e FROM t ORDER BY rowid").map { r in (0..<5).map { r[$0] as DatabaseValue } }
    }

    func testEveryKindOfValueIsWrittenAsGiven() throws {
        try withTable { db in
            let stmt = RawStatement(try db.cachedStatement(sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)"), db)
            var row = RowArguments()
            row.append("héllo ✓")
            row.append("")
            row.append(nil as String?)
            row.append(Int64.min)
            row.append(json: JSONText(["k": [1, "x", nil]]))
            XCTAssertEqual(try stmt.run(row), 1)
            row.removeAll()
            row.append(7)
            row.append(nil as Int64?)
            row.append(json: nil)
            var fields = EventFields()
            fields.add(.init(member: #","a":"#), 1)
            fields.add(.init(member: #","b":"#), "x\"y")
            row.append(fields)
            row.append(String(repeating: "z", count: 5000))
            try stmt.run(row)
            XCTAssertEqual(try rows(db), [
                ["héllo ✓".databaseValue, "".databaseValue, .null, Int64.min.databaseValue, #"{"k":[1,"x",null]}"#.databaseValue],
                [7.databaseValue, .null, .null, #"{"a":1,"b":"x\"y"}"#.databaseValue, String(repeating: "z", count: 5000).databaseValue],
            ])
        }
    }

    func testAnArgumentCountThatDiffersFromTheStatementIsRefusedBeforeItRuns() throws {
        try withTable { db in
            let stmt = RawStatement(try db.cachedStatement(sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)"), db)
            var row = RowArguments()
            for n in 0..<4 { row.append(n) }
            XCTAssertThrowsError(try stmt.run(row))
            for n in 4..<6 { row.append(n) }
            XCTAssertThrowsError(try stmt.run(row))
            XCTAssertEqual(try rows(db), [], "nothing was written")
        }
    }

    /// Text is bound in place from a buffer that lives only during `run(_:)`: afterwards
    /// the statement holds no binding, so a later step writes NULLs, not freed memory.
    func testNoBindingOutlivesTheRun() throws {
        try withTable { db in
            let stmt = RawStatement(try db.cachedStatement(sql: "INSERT INTO t VALUES (?, ?, ?, ?, ?)"), db)
            var row = RowArguments()
            for _ in 0..<5 { row.append("text that must not be read later") }
            try stmt.run(row)
            try stmt.run()
            XCTAssertEqual(try rows(db).last, [.null, .null, .null, .null, .null])
        }
    }
}
