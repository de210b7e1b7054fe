import XCTest

@testable import BatonWire

/// `JSONText`: whatever text it is given, it holds what the writer writes for the value
/// the parser reads (spec §3.2.1), whether it kept the text (canonical) or wrote it anew;
/// and it keeps the text of what workers really send.
final class JSONTextTests: XCTestCase {
    private let random = RandomSpecs()

    /// The invariant, for one input: the same bytes as parse-then-write, or the parser's
    /// error.
    private func assertHoldsTheWritersText(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) {
        switch Result(catching: { () throws(JSONParser.Failure) in try JSONParser.parse(bytes) }) {
        case .success(let value):
            XCTAssertEqual(try JSONText(parsing: bytes).bytes, JSONWriter.bytes(value),
                           "text: \(String(decoding: bytes, as: UTF8.self))", file: file, line: line)
        case .failure(let error):
            XCTAssertThrowsError(try JSONText(parsing: bytes), file: file, line: line) {
                XCTAssertEqual($0 as? JSONParser.Failure, error, file: file, line: line)
            }
        }
    }

    /// Whether the text would be kept as it came (the fast path), not written anew.
    private func isKept(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { b in
            var p = JSONParser(b)
            return p.canonicalValue(depth: 0) && p.i == b.count
        }
    }

    func testTheWritersOwnTextIsKeptAsItIs() {
        for text in [#"{"bench":true}"#, #"{"a":1,"b":[1,-2,0,"x",null,false,{}],"c":{"d":"e\"f\\g\n\r\t\u0001\u001f"}}"#,
                     #"[]"#, #"{}"#, #""""#, "0", "-7", "123456789012345678", "null", #"{"A":1,"a":2,"aa":3,"b":4}"#,
                     #"{"a":"\u007f\u0000"}"#.replacingOccurrences(of: "\\u007f", with: "\u{7f}")] {
            XCTAssertTrue(isKept(text), text)
            XCTAssertEqual(try JSONText(parsing: Array(text.utf8)).bytes, Array(text.utf8), text)
        }
        for _ in 0..<300 {
            // Random outputs without doubles or non-ASCII, as the writer writes them.
            var args = random.args()
            args["list"] = nil
            args["é"] = nil
            if case .string(let s)? = args["host"], s.utf8.contains(where: { $0 >= 0x80 }) { args["host"] = nil }
            let text = JSONWriter.string(.object(args))
            XCTAssertTrue(isKept(text), text)
        }
    }

    func testTextThatIsNotTheWritersIsWrittenAnew() {
        // Each is valid JSON whose writing differs, or that the check does not try to prove
        // canonical (doubles, non-ASCII, deep nesting): none may be kept as it came.
        let notKept = [
            #"{"a":1} "#, #"{ "a":1}"#, #"{"a" :1}"#, #"{"a":1 }"#, #"[1, 2]"#,
            #"{"b":1,"a":2}"#, #"{"a":1,"a":2}"#, #"{"ab":1,"a":2}"#, #"{"a\u0062":1}"#,
            #""\/""#, #""\b""#, #""\f""#, #""\u000a""#, #""\u0009""#, #""\u000d""#, #""\u001F""#, #""\u0041""#, #""\u00e9""#,
            "-0", "1.0", "1.5", "1e2", "1E2", "0.0", "1234567890123456789", "-1234567890123456789",
            #""é""#, #"{"é":1}"#, #"["déploiement"]"#,
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
        ]
        for text in notKept {
            XCTAssertFalse(isKept(text), text)
            assertHoldsTheWritersText(Array(text.utf8))
        }
    }

    func testAnyTextHoldsTheWritersTextOrFailsAsTheParserFails() {
        let deep = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        for text in [deep, deep + " ", "", " ", "nul", "01", "-", "-01", "1.", #"{"a":}"#, #"{"a":1,}"#, "[1,]", #""\u12""#,
                     #""\ud800""#, #""a"#, "\"\u{1}\"", #"{"a":1}x"#, "[1]]", "tru", "nulls", "1 2", #""\x""#] {
            assertHoldsTheWritersText(Array(text.utf8))
        }
        for _ in 0..<2000 {
            let value: JSONValue = Bool.random(using: &random.rng) ? .object(random.args()) : .array([.object(random.args()), .int(-3)])
            let bytes = JSONWriter.bytes(value)
            assertHoldsTheWritersText(bytes)
            assertHoldsTheWritersText(random.broken(bytes))
        }
    }

    func testTheValueIsTheOneTheTextWasMadeOf() throws {
        for _ in 0..<200 {
            let value: JSONValue = .object(random.args())
            XCTAssertEqual(JSONText(value).value, value)
            XCTAssertEqual(try JSONText(parsing: JSONWriter.bytes(value)).value, value)
        }
        XCTAssertTrue(JSONText(.null).isNull)
        XCTAssertFalse(JSONText(.string("null")).isNull)
        XCTAssertFalse(JSONText(.bool(true)).isNull)
    }

    /// The RESULT reader keeps a worker's canonical output as its text, and gives the same
    /// text as the tree path for any other.
    func testResultOutputsAreKeptOrWrittenAsTheTreePathWritesThem() throws {
        let kept = JSONParser.plainResult(utf8(#"{"attempt":1,"job_id":"w.0.0","ok":true,"output":{"bench":true,"n":[1,2]}}"#))
        XCTAssertEqual(kept?.outputText?.bytes, utf8(#"{"bench":true,"n":[1,2]}"#))
        let rewritten = JSONParser.plainResult(utf8(#"{"attempt":1,"job_id":"w.0.0","ok":true,"output":{ "n" : [1, 2.50], "bench":true }}"#))
        XCTAssertEqual(rewritten?.outputText?.bytes, utf8(#"{"bench":true,"n":[1,2.5]}"#))
        XCTAssertNil(JSONParser.plainResult(utf8(#"{"attempt":1,"job_id":"w.0.0","ok":true,"output":null}"#))?.outputText)
        XCTAssertNil(JSONParser.plainResult(utf8(#"{"attempt":1,"job_id":"w.0.0","ok":true,"output":{"a":1,"a":2}}"#)),
                     "a duplicate key is left to the tree path, which refuses it")
    }

    /// A SUBMIT's job args are held as the writer's text whatever the client wrote
    /// (compact and sorted, or spaced and out of order), and the spec's bytes, JOB body
    /// and equality are those of the tree the args make.
    func testSubmittedArgsAreTheWritersTextOfTheirTree() throws {
        let forms = [#"{"bench":true,"n":[1,2]}"#, #"{ "n" : [1, 2], "bench":true }"#, #"{"n":[1,2.0],"bench":true}"#]
        for form in forms {
            let body = utf8(#"{"workflow":{"name":"w","blocks":[{"jobs":[{"type":"echo","args":"# + form + "}]}]}}")
            let job = try XCTUnwrap(JSONParser.plainSubmit(body)?.workflow.blocks[0].jobs[0], form)
            let tree: [String: JSONValue] = ["bench": true, "n": [1, 2]]
            XCTAssertEqual(job.argsText.bytes, JSONWriter.bytes(.object(job.args)), form)
            XCTAssertEqual(job, JobSpec(type: "echo", args: form.contains("2.0") ? ["bench": true, "n": [1, .double(2)]] : tree), form)
        }
        XCTAssertTrue(isKept(forms[0]))
        XCTAssertFalse(isKept(forms[1]))
    }

    /// `member` answers as the parsed object's subscript: present, absent, nested values,
    /// keys with escapes or beyond ASCII (read through the whole parse), "K" against
    /// U+212A KELVIN SIGN (equal as Strings, not as bytes), and texts that are no object.
    func testAMemberIsTheParsedObjectsMember() throws {
        var texts = [#"{}"#, #"{"a":1}"#, #"{"K":"ascii"}"#, "{\"\u{212A}\":\"kelvin\"}", #"{"a\"b":2,"c":3}"#,
                     #"{"é":"accent","z":{"y":[1,{"x":null}]}}"#, #"[1,2]"#, #"7"#, #"null"#]
        for _ in 0..<300 { texts.append(String(decoding: JSONWriter.bytes(.object(random.args())), as: UTF8.self)) }
        let keys = ["a", "K", "\u{212A}", "a\"b", "c", "é", "e\u{301}", "z", "host", "n", "dry_run", "Zone", "list", "nested", "", "missing"]
        for text in texts {
            let held = try JSONText(parsing: utf8(text))
            for key in keys {
                XCTAssertEqual(held.member(key), held.value.objectValue?[key], "\(text) [\(key)]")
            }
        }
    }

    /// Two specs whose args differ only where idempotency cannot tell (canonically
    /// equivalent strings, as values or keys; `-0.0` and `0.0`) are the same spec, though
    /// their texts differ; `3` and `3.0` stay different (spec §3.2.1).
    func testArgsThatDifferOnlyInTextAreTheSameSpec() throws {
        func job(_ args: String) throws -> JobSpec {
            let body = utf8(#"{"workflow":{"name":"w","blocks":[{"jobs":[{"type":"echo","args":"# + args + "}]}]}}")
            return try XCTUnwrap(JSONParser.plainSubmit(body)?.workflow.blocks[0].jobs[0], args)
        }
        let pairs = [(#"{"s":"caf\u00e9"}"#, #"{"s":"cafe\u0301"}"#), (#"{"caf\u00e9":1}"#, #"{"cafe\u0301":1}"#),
                     (#"{"z":-0.0}"#, #"{"z":0.0}"#)]
        for (a, b) in pairs {
            let (x, y) = (try job(a), try job(b))
            XCTAssertNotEqual(x.argsText, y.argsText, "\(a) \(b)")
            XCTAssertEqual(x, y, "\(a) \(b)")
        }
        XCTAssertNotEqual(try job(#"{"n":3}"#), try job(#"{"n":3.0}"#))
        XCTAssertNotEqual(try job(#"{"n":3}"#), try job(#"{"n":4}"#))
    }
}
