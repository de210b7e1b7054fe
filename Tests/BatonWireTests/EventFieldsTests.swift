import BatonWire
import XCTest

final class EventFieldsTests: XCTestCase {
    private func bytes(_ f: EventFields) -> String {
        var out: [UInt8] = []
        f.write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func testNoFieldsIsAnEmptyObject() {
        XCTAssertEqual(bytes(EventFields()), "{}")
        XCTAssertTrue(EventFields().isEmpty)
        XCTAssertEqual(EventFields([:]), EventFields())
        XCTAssertEqual(EventFields().object, [:])
    }

    /// The bytes built field by field are the ones JSONWriter writes for the same fields as
    /// a dictionary: the stored events read back alike whichever way they were built.
    func testFieldsAddedInKeyOrderAreWhatJSONWriterWritesForTheDictionary() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var f = EventFields()
            var d: [String: JSONValue] = [:]
            let attempt = Int.random(in: 0...1_000_000, using: &rng)
            f.add(.attempt, attempt); d["attempt"] = .int(Int64(attempt))
            let block = Int.random(in: 0...100, using: &rng)
            f.add(.block, block); d["block"] = .int(Int64(block))
            if Bool.random(using: &rng) {
                let details: JSONValue = ["pct": .int(Int64.random(in: -5...100, using: &rng)), "note": "a\"b\\c\n\u{1}é✓"]
                f.add(.details, details); d["details"] = details
            }
            if Bool.random(using: &rng) {
                let error = String((0..<Int.random(in: 0...40, using: &rng)).map { _ in "ab\"\\\n\t\u{7f}é✓ ".randomElement(using: &rng)! })
                f.add(.error, error); d["error"] = .string(error)
            }
            f.add(.job, Int64.min); d["job"] = .int(.min)
            f.add(.jobId, "01JOB.0.3"); d["job_id"] = "01JOB.0.3"
            if Bool.random(using: &rng) { f.add(.worker, "w-1"); d["worker"] = "w-1" }
            XCTAssertEqual(bytes(f), JSONWriter.string(.object(d)))
            XCTAssertEqual(f.object, d)
            XCTAssertEqual(f, EventFields(d))
        }
    }

    func testTheDictionaryInitializerTakesAnyKeys() {
        let d: [String: JSONValue] = ["z": 1, "a\"b": "x", "é": [1, nil]]
        XCTAssertEqual(bytes(EventFields(d)), JSONWriter.string(.object(d)))
        XCTAssertEqual(EventFields(d).object, d)
    }

    func testDifferentFieldsAreNotEqual() {
        var a = EventFields(), b = EventFields()
        a.add(.block, 1)
        b.add(.block, 2)
        XCTAssertNotEqual(a, b)
    }

    /// A job's id added from its parts is the id written as a string: any workflow id
    /// (escapes included), any block and job.
    func testAJobIdAddedFromItsPartsIsTheIdAsAString() {
        var rng = SystemRandomNumberGenerator()
        let ids = ["01JZ5Q7N4M2X8K3V9B6T1R0CDE", "", "w", "a\"b\\c\n\u{1}é✓", String(repeating: "x", count: 300)]
        for id in ids {
            for (block, job) in [(0, 0), (9, 10), (Int.max, 0), (Int.random(in: 0...99_999, using: &rng), Int.random(in: 0...99_999, using: &rng))] {
                var parts = EventFields(), whole = EventFields()
                parts.add(.attempt, 1); whole.add(.attempt, 1)
                parts.add(.jobId, jobOf: id, block: block, job: job)
                whole.add(.jobId, "\(id).\(block).\(job)")
                XCTAssertEqual(bytes(parts), bytes(whole), id)
                XCTAssertEqual(parts.object["job_id"], .string("\(id).\(block).\(job)"))
            }
        }
    }
}
