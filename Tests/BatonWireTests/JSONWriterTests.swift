import BatonWire
import Foundation
import XCTest

final class JSONWriterTests: XCTestCase {
    private func roundTrip(_ value: JSONValue, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = JSONWriter.bytes(value)
        do {
            let parsed = try JSONParser.parse(bytes)
            XCTAssertEqual(parsed, value, String(decoding: bytes, as: UTF8.self), file: file, line: line)
        } catch {
            XCTFail("\(String(decoding: bytes, as: UTF8.self)): \(error)", file: file, line: line)
        }
    }

    // MARK: Exact bytes

    func testScalarsAreWrittenCompactly() {
        XCTAssertEqual(JSONWriter.string(nil), "null")
        XCTAssertEqual(JSONWriter.string(true), "true")
        XCTAssertEqual(JSONWriter.string(false), "false")
        XCTAssertEqual(JSONWriter.string(0), "0")
        XCTAssertEqual(JSONWriter.string(-42), "-42")
        XCTAssertEqual(JSONWriter.string(.int(.max)), "9223372036854775807")
        XCTAssertEqual(JSONWriter.string(.int(.min)), "-9223372036854775808")
        XCTAssertEqual(JSONWriter.string(.double(1.5)), "1.5")
        XCTAssertEqual(JSONWriter.string(.double(-0.25)), "-0.25")
        XCTAssertEqual(JSONWriter.string(""), "\"\"")
        XCTAssertEqual(JSONWriter.string([]), "[]")
        XCTAssertEqual(JSONWriter.string([:]), "{}")
    }

    func testObjectsAreCompactWithKeysSorted() {
        let value: JSONValue = ["b": 1, "a": [true, nil, "x"], "c": ["z": .double(1.5), "y": -2], "B": [:], "_": []]
        XCTAssertEqual(JSONWriter.string(value), #"{"B":{},"_":[],"a":[true,null,"x"],"b":1,"c":{"y":-2,"z":1.5}}"#)
    }

    /// The in-place index sort (insertion sort up to 16 keys, the library's above) must
    /// give String order exactly, for every size and for non-ASCII keys.
    func testKeysComeInStringOrderAtEverySize() {
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("aAzZ09_-é✓ ") + ["e\u{301}"].map { Character($0) }
        for size in [0, 1, 2, 3, 15, 16, 17, 40, 300] {
            var fields: [String: JSONValue] = [:]
            while fields.count < size {
                let key = String((0..<Int.random(in: 0...4, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
                fields[key] = .int(Int64(fields.count))
            }
            let expected = "{" + fields.sorted { $0.key < $1.key }
                .map { "\(JSONWriter.string(.string($0.key))):\(JSONWriter.string($0.value))" }
                .joined(separator: ",") + "}"
            XCTAssertEqual(JSONWriter.string(.object(fields)), expected, "\(size) keys")
        }
    }

    func testKeyOrderOfTheInputDoesNotChangeTheBytes() throws {
        let a = try JSONParser.parse(#"{"z":1,"a":{"y":2,"b":3},"m":[{"q":1,"p":2}]}"#)
        let b = try JSONParser.parse(#"{ "m" : [ {"p":2,"q":1} ], "a":{"b":3,"y":2}, "z":1 }"#)
        XCTAssertEqual(a, b)
        XCTAssertEqual(JSONWriter.bytes(a), JSONWriter.bytes(b))
        XCTAssertEqual(JSONWriter.string(a), #"{"a":{"b":3,"y":2},"m":[{"p":2,"q":1}],"z":1}"#)
    }

    func testStringEscapes() {
        XCTAssertEqual(JSONWriter.string("a\"b"), #""a\"b""#)
        XCTAssertEqual(JSONWriter.string("a\\b"), #""a\\b""#)
        XCTAssertEqual(JSONWriter.string("line\nnext"), #""line\nnext""#)
        XCTAssertEqual(JSONWriter.string("\r\t"), #""\r\t""#)
        XCTAssertEqual(JSONWriter.string("\u{01}"), #""\u0001""#)
        XCTAssertEqual(JSONWriter.string("\u{0}\u{08}\u{0C}\u{1F}"), #""\u0000\u0008\u000c\u001f""#)
        // Not escaped: '/', DEL, and everything non-ASCII (written as raw UTF-8).
        XCTAssertEqual(JSONWriter.string("a/b\u{7F}"), "\"a/b\u{7F}\"")
    }

    /// Against a byte-by-byte escaper, on random strings of every length up to three
    /// words with escapes, DEL, and multi-byte characters at every position: the word
    /// scan must find each escape wherever it falls in a word, and miss nothing else.
    func testStringsAreWrittenAsAByteByByteEscaperWritesThem() {
        func reference(_ s: String) -> [UInt8] {
            var out: [UInt8] = [0x22]
            for c in s.utf8 {
                switch c {
                case 0x22: out += [0x5C, 0x22]
                case 0x5C: out += [0x5C, 0x5C]
                case 0x0A: out += [0x5C, UInt8(ascii: "n")]
                case 0x0D: out += [0x5C, UInt8(ascii: "r")]
                case 0x09: out += [0x5C, UInt8(ascii: "t")]
                case 0..<0x20: out += Array(String(format: "\\u%04x", c).utf8)
                default: out.append(c)
                }
            }
            return out + [0x22]
        }
        let pieces: [String] = ["a", "Z", "0", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{20}", "!", "#",
                                "[", "]", "\u{7F}", "é", "日", "😀", "\u{1}", "\u{21}", "\u{5B}", "\u{5D}"]
        var g = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0...26, using: &g)
            // Mostly plain letters, so escapes fall alone at every offset of a word.
            let s = (0..<n).map { _ in Int.random(in: 0..<4, using: &g) == 0 ? pieces.randomElement(using: &g)! : "x" }.joined()
            XCTAssertEqual(JSONWriter.bytes(.string(s)), reference(s), s.debugDescription)
        }
    }

    func testUnicodeIsWrittenAsRawUTF8() {
        XCTAssertEqual(JSONWriter.bytes("é"), [0x22, 0xC3, 0xA9, 0x22])
        XCTAssertEqual(JSONWriter.bytes("😀"), [0x22, 0xF0, 0x9F, 0x98, 0x80, 0x22])
        XCTAssertEqual(JSONWriter.string(["日本": "😀"]), "{\"日本\":\"😀\"}")
    }

    func testEscapedKeys() {
        XCTAssertEqual(JSONWriter.string(["a\"\n": 1]), #"{"a\"\n":1}"#)
    }

    func testWriteAppendsToExistingBytes() {
        var out = Array("prefix:".utf8)
        JSONWriter.write(["k": "v"], into: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), #"prefix:{"k":"v"}"#)
        var s: [UInt8] = []
        JSONWriter.writeString("q\"", into: &s)
        XCTAssertEqual(String(decoding: s, as: UTF8.self), #""q\"""#)
    }

    // MARK: Round trips

    func testEveryTypeRoundTrips() {
        roundTrip(nil)
        roundTrip(true)
        roundTrip(false)
        roundTrip(0)
        roundTrip(.int(.max))
        roundTrip(.int(.min))
        roundTrip(.double(1.5))
        roundTrip(.double(-0.001))
        roundTrip(.double(3.141592653589793))
        roundTrip(.double(1e20))
        roundTrip(.double(-2.5e-7))
        roundTrip(.double(1.7976931348623157e308))
        roundTrip(.double(.leastNonzeroMagnitude))
        roundTrip("")
        roundTrip("plain")
        roundTrip([])
        roundTrip([:])
        roundTrip([1, "two", [3, [4, [:]]], ["k": nil]])
        roundTrip(["deep": ["deeper": ["deepest": [true, false, nil]]]])
    }

    func testEveryStringRoundTrips() {
        roundTrip("\" \\ / \u{08} \u{0C} \n \r \t")
        roundTrip(.string(String((0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) })))
        roundTrip("héllo 日本 😀 𝄞 \u{FEFF} \u{10FFFF}")
        roundTrip(["😀 key \u{01}": "value \u{1F}"])
    }

    func testEscapedInputRoundTripsToTheSameValue() throws {
        // Parsing escapes and writing raw UTF-8 gives bytes that parse to the same value.
        let v = try JSONParser.parse(#"{"s":"\ud83d\ude00\u00e9\u0001\/"}"#)
        XCTAssertEqual(v, ["s": "😀é\u{01}/"])
        XCTAssertEqual(JSONWriter.string(v), "{\"s\":\"😀é\\u0001/\"}")
        XCTAssertEqual(try JSONParser.parse(JSONWriter.bytes(v)), v)
    }

    func testDoublesAlwaysCarryAFractionOrExponent() {
        XCTAssertEqual(JSONWriter.string(.double(5)), "5.0")
        XCTAssertEqual(JSONWriter.string(.double(-0.0)), "-0.0")
        XCTAssertEqual(JSONWriter.string(.double(1e20)), "1e+20")
        XCTAssertEqual(JSONWriter.string(.double(.nan)), "null")
    }

    /// The spec (§4.3.1) says that inside `args` "3 and 3.0 differ", and
    /// `WorkflowSpec.json` promises "parsing it back gives an equal spec": so a double
    /// with no fraction must come back as a double.
    /// Integers are written as Swift's `String(_:)` writes them: every digit count, both
    /// signs, the edges of Int64, and where two-digit steps meet an odd digit out.
    func testIntegersAreWrittenAsTheirDecimal() {
        var values: [Int64] = [Int64.min, Int64.min + 1, Int64.max, Int64.max - 1]
        values += (-1000...1000).map { Int64($0) }
        var p: Int64 = 1
        for _ in 0..<19 {
            values += [p - 1, p, p + 1, -(p - 1), -p, -(p + 1), p * 9, p * 5 + 3]
            p = p.multipliedReportingOverflow(by: 10).overflow ? p : p * 10
        }
        var rng = SystemRandomNumberGenerator()
        values += (0..<2000).map { _ in Int64.random(in: Int64.min...Int64.max, using: &rng) }
        values.append(1_765_130_000_123)  // a millisecond timestamp, 13 digits
        for v in values {
            var out: [UInt8] = [UInt8(ascii: "x")]
            JSONWriter.writeInt(v, into: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), "x" + String(v))
        }
    }

    func testIntegralDoubleRoundTripsAsADouble() {
        roundTrip(.double(3))
        roundTrip(["n": .double(-12)])
    }

    /// Whatever the writer emits must be JSON: a non-finite double (which a job's output
    /// can hold) must not come out as `nan` or `inf`.
    func testNonFiniteDoublesStillGiveValidJSON() {
        for d in [Double.nan, .infinity, -.infinity] {
            let text = JSONWriter.string(["x": .double(d)])
            XCTAssertNoThrow(try JSONParser.parse(text), text)
        }
    }

    // MARK: size(of:upTo:)

    func testSizeIsTheWrittenByteCount() {
        let values: [JSONValue] = [
            .null, true, false, 0, 7, -7, 10, 1234567890, .int(Int64.min), .int(Int64.max), .double(3.5), .double(.nan),
            "", "plain", "quote \" back \\ nl \n cr \r tab \t bell \u{07} nul \u{0}", "ünïcødé ✓",
            [], [1, "a", nil], [:], ["b": 1, "a": [true, ["z": "y"]], "é": "\n"],
        ]
        for v in values {
            XCTAssertEqual(JSONWriter.size(of: v, upTo: 1 << 20), JSONWriter.bytes(v).count, JSONWriter.string(v))
        }
    }

    func testSizeGivesUpPastItsLimit() {
        let huge: JSONValue = ["pad": .string(String(repeating: "x", count: 5_000_000))]
        XCTAssertGreaterThan(JSONWriter.size(of: huge, upTo: 1000), 1000)
        XCTAssertGreaterThan(JSONWriter.size(of: [1, 2, 3], upTo: 0), 0)
        XCTAssertGreaterThan(JSONWriter.size(of: "abc", upTo: -5), 0, "a negative limit counts as 0")
        let many: JSONValue = .array(Array(repeating: "x", count: 100_000))
        XCTAssertGreaterThan(JSONWriter.size(of: many, upTo: 100), 100)
    }

}
