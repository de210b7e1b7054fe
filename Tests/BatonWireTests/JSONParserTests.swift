import BatonWire
import XCTest

final class JSONParserTests: XCTestCase {
    private func failure(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> JSONParser.Failure? {
        do {
            let v = try JSONParser.parse(bytes)
            XCTFail("parsed as \(v)", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Asserts the input is refused at `offset` for `reason`.
    private func assertFails(
        _ text: String, at offset: Int, _ reason: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertFails(utf8(text), at: offset, reason, file: file, line: line)
    }

    private func assertFails(
        _ bytes: [UInt8], at offset: Int, _ reason: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        guard let f = failure(bytes, file: file, line: line) else { return }
        XCTAssertEqual(f.reason, reason, file: file, line: line)
        XCTAssertEqual(f.offset, offset, "offset for \(reason)", file: file, line: line)
    }

    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        do {
            return try JSONParser.parse(text)
        } catch {
            XCTFail("\(text): \(error)", file: file, line: line)
            return nil
        }
    }

    // MARK: Values

    func testEveryTypeParses() {
        XCTAssertEqual(parse("null"), .null)
        XCTAssertEqual(parse("true"), .bool(true))
        XCTAssertEqual(parse("false"), .bool(false))
        XCTAssertEqual(parse("0"), .int(0))
        XCTAssertEqual(parse("-17"), .int(-17))
        XCTAssertEqual(parse("1.5"), .double(1.5))
        XCTAssertEqual(parse("-0.25e2"), .double(-25))
        XCTAssertEqual(parse("2E-3"), .double(0.002))
        XCTAssertEqual(parse("1e+2"), .double(100))
        XCTAssertEqual(parse("\"\""), .string(""))
        XCTAssertEqual(parse("\"hi\""), .string("hi"))
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("{}"), .object([:]))
        XCTAssertEqual(parse("[1,\"a\",null,[true]]"), [1, "a", nil, [true]])
        XCTAssertEqual(parse("{\"a\":{\"b\":[]}}"), ["a": ["b": []]])
    }

    func testWhitespaceAroundTokensIsAllowed() {
        XCTAssertEqual(parse(" \t\r\n{ \"a\" :\n[ 1 , 2 ] ,\"b\":\tnull } \n"), ["a": [1, 2], "b": nil])
    }

    func testIntegersStayIntegersAcrossTheInt64Range() {
        XCTAssertEqual(parse("9223372036854775807"), .int(.max))
        XCTAssertEqual(parse("-9223372036854775808"), .int(.min))
        XCTAssertEqual(parse("1234567890123"), .int(1_234_567_890_123))
    }

    func testIntegersBeyondInt64BecomeDoubles() {
        XCTAssertEqual(parse("9223372036854775808"), .double(0x1p63))
        XCTAssertEqual(parse("-9223372036854775809"), .double(-0x1p63))
        XCTAssertEqual(parse("100000000000000000000000"), .double(1e23))
    }

    func testNumbersOutOfDoubleRangeAreRefused() {
        assertFails("1e400", at: 0, "number out of range")
        assertFails("[0, -1e400]", at: 4, "number out of range")
    }

    func testEscapesDecode() {
        XCTAssertEqual(parse(#""\" \\ \/ \b \f \n \r \t""#), .string("\" \\ / \u{08} \u{0C} \n \r \t"))
        XCTAssertEqual(parse(#""\u0041\u00e9\u00E9\u20AC""#), .string("Aéé€"))
        XCTAssertEqual(parse(#""\u0000""#), .string("\u{0}"))
    }

    func testSurrogatePairsDecodeToOneScalar() {
        XCTAssertEqual(parse(#""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(parse(#""a\uD834\uDD1Eb""#), .string("a𝄞b"))
    }

    func testRawUTF8PassesThrough() {
        XCTAssertEqual(parse("\"héllo 😀 日本\""), .string("héllo 😀 日本"))
        // Escapes and raw multibyte text mixed in one string (the slow path).
        XCTAssertEqual(parse("\"😀\\n日本\""), .string("😀\n日本"))
    }

    func testNestingUpToMaxDepthIsAccepted() {
        let depth = JSONParser.maxDepth
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        XCTAssertNotNil(parse(arrays))
        let objects = String(repeating: "{\"a\":", count: depth - 1) + "{}" + String(repeating: "}", count: depth - 1)
        XCTAssertNotNil(parse(objects))
    }

    // MARK: Errors

    func testNestingDeeperThanMaxDepthIsRefusedAtTheOpeningBracket() {
        let depth = JSONParser.maxDepth + 1
        let arrays = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        assertFails(arrays, at: depth - 1, "nesting deeper than \(JSONParser.maxDepth)")
        // Mixed objects and arrays count the same.
        let mixed = String(repeating: "{\"k\":[", count: (depth + 1) / 2)
        guard let f = failure(utf8(mixed)) else { return }
        XCTAssertEqual(f.reason, "nesting deeper than \(JSONParser.maxDepth)")
        // Each `{"k":[` is 6 bytes and two levels, so level 65 is the `{` of the 33rd.
        XCTAssertEqual(f.offset, 32 * 6)
    }

    func testVeryDeepInputFailsWithoutRecursingIntoIt() {
        let f = failure(Array(repeating: UInt8(ascii: "["), count: 100_000))
        XCTAssertEqual(f?.reason, "nesting deeper than \(JSONParser.maxDepth)")
    }

    func testTrailingDataIsRefused() {
        assertFails("{\"a\":1} x", at: 8, "unexpected data after the value")
        assertFails("1 2", at: 2, "unexpected data after the value")
        assertFails("{}{}", at: 2, "unexpected data after the value")
        assertFails("nullx", at: 4, "unexpected data after the value")
    }

    func testEmptyInputIsRefused() {
        assertFails("", at: 0, "unexpected end of input")
        assertFails("   ", at: 3, "unexpected end of input")
    }

    func testDuplicateKeysAreRefused() {
        assertFails("{\"a\":1,\"a\":2}", at: 12, "duplicate key \"a\"")
        // Duplicates in a nested object too; equal after unescaping counts as equal.
        assertFails("{\"o\":{\"k\":1,\"\\u006b\":2}}", at: 22, "duplicate key \"k\"")
    }

    func testUnterminatedStringsAreRefused() {
        assertFails("\"abc", at: 4, "unterminated string")
        assertFails("\"a\\n", at: 4, "unterminated string")
        assertFails("\"a\\", at: 3, "unterminated escape")
        assertFails("{\"key", at: 5, "unterminated string")
    }

    func testInvalidEscapesAreRefused() {
        assertFails(#""a\x""#, at: 4, "invalid escape")
        assertFails(#""\'""#, at: 3, "invalid escape")
        assertFails(#""\U0041""#, at: 3, "invalid escape")
        assertFails(#""\u12""#, at: 3, "short \\u escape")
        assertFails(#""\u12G4""#, at: 5, "invalid hex digit")
    }

    func testLoneSurrogatesAreRefused() {
        assertFails(#""\ud800""#, at: 7, "unpaired surrogate")
        assertFails(#""\udc00""#, at: 7, "unpaired surrogate")
        assertFails(#""\ud83dx""#, at: 7, "unpaired surrogate")
        assertFails(#""\ud83d\u0041""#, at: 13, "unpaired surrogate")
        assertFails(#""\ud83d\ud83d""#, at: 13, "unpaired surrogate")
    }

    func testInvalidUTF8InsideAStringIsRefused() {
        // Fast path (no escapes): reported at the start of the string's content.
        assertFails([0x22, 0x61, 0xFF, 0x62, 0x22], at: 1, "invalid UTF-8 in string")
        // Truncated 3-byte sequence, overlong encoding, UTF-8-encoded surrogate.
        assertFails([0x22, 0xE2, 0x82, 0x22], at: 1, "invalid UTF-8 in string")
        assertFails([0x22, 0xC0, 0xAF, 0x22], at: 1, "invalid UTF-8 in string")
        assertFails([0x22, 0xED, 0xA0, 0x80, 0x22], at: 1, "invalid UTF-8 in string")
        // Slow path (the string has an escape): still refused.
        XCTAssertEqual(failure([0x22, 0x5C, 0x6E, 0xFF, 0x22])?.reason, "invalid UTF-8 in string")
        // In an object key.
        XCTAssertEqual(failure([0x7B, 0x22, 0xFE, 0x22, 0x3A, 0x31, 0x7D])?.reason, "invalid UTF-8 in string")
    }

    func testControlCharactersInStringsAreRefused() {
        assertFails("\"a\u{01}\"", at: 2, "control character in string")
        assertFails("\"line\nbreak\"", at: 5, "control character in string")
        assertFails("\"\\n\u{1F}\"", at: 3, "control character in string")
        assertFails("\"tab\there\"", at: 4, "control character in string")
        // 0x7F is not a control character for JSON.
        XCTAssertEqual(parse("\"\u{7F}\""), .string("\u{7F}"))
    }

    /// Random strings with a control byte, a quote, an escape or nothing special at
    /// every offset of the word scan: read back as written, refused where a byte-by-byte
    /// reader refuses them (the control byte's own offset).
    func testStringsAreScannedAsByteByByte() throws {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let n = Int.random(in: 0...26, using: &g)
            var body = (0..<n).map { _ in UInt8(ascii: "x") }
            if n > 0, Bool.random(using: &g) {
                let at = Int.random(in: 0..<n, using: &g)
                body[at] = [0x01, 0x1F, 0x0A, 0x7F, 0xC3].randomElement(using: &g)!
                if body[at] == 0xC3 { body.insert(0xA9, at: at + 1) }  // é
            }
            let bytes = [0x22] + body + [0x22]
            if let control = body.firstIndex(where: { $0 < 0x20 }) {
                assertFails(bytes, at: 1 + control, "control character in string")
            } else {
                XCTAssertEqual(try JSONParser.parse(bytes), .string(String(decoding: body, as: UTF8.self)))
                let escaped = [0x22] + body + [0x5C, UInt8(ascii: "n"), 0x22]  // an escape at the end
                XCTAssertEqual(try JSONParser.parse(escaped), .string(String(decoding: body, as: UTF8.self) + "\n"))
            }
            assertFails([0x22] + body.filter { $0 >= 0x20 }, at: 1 + body.filter { $0 >= 0x20 }.count, "unterminated string")
        }
    }

    func testBadNumbersAreRefused() {
        assertFails("01", at: 1, "unexpected data after the value")
        assertFails("-01", at: 2, "unexpected data after the value")
        assertFails("1.", at: 2, "invalid number")
        assertFails("1.e5", at: 2, "invalid number")
        assertFails("-", at: 1, "invalid number")
        assertFails("-a", at: 1, "invalid number")
        assertFails("1e", at: 2, "invalid number")
        assertFails("1e+", at: 3, "invalid number")
        assertFails("+1", at: 0, "unexpected character")
        assertFails(".5", at: 0, "unexpected character")
        assertFails("0x10", at: 1, "unexpected data after the value")
        assertFails("[1,-]", at: 4, "invalid number")
    }

    func testLiteralsMustBeExact() {
        assertFails("tru", at: 0, "unexpected end of input")
        assertFails("trux", at: 0, "invalid literal")
        assertFails("nul", at: 0, "unexpected end of input")
        assertFails("nulL", at: 0, "invalid literal")
        assertFails("falsy", at: 0, "invalid literal")
        assertFails("True", at: 0, "unexpected character")
        assertFails("NaN", at: 0, "unexpected character")
        assertFails("[true, nope]", at: 7, "invalid literal")
    }

    func testStructuralErrors() {
        assertFails("{\"a\" 1}", at: 5, "expected ':'")
        assertFails("{\"a\":1", at: 6, "unexpected end of input")
        assertFails("{1:2}", at: 1, "expected a string key")
        assertFails("{\"a\":1,}", at: 7, "expected a string key")
        assertFails("{\"a\":1 \"b\":2}", at: 7, "expected ',' or '}'")
        assertFails("[1 2]", at: 3, "expected ',' or ']'")
        assertFails("[1,]", at: 3, "unexpected character")
        assertFails("[", at: 1, "unexpected end of input")
        assertFails("[1", at: 2, "unexpected end of input")
        assertFails("{\"a\":}", at: 5, "unexpected character")
        assertFails("]", at: 0, "unexpected character")
    }

    func testFailureDescriptionNamesOffsetAndReason() {
        XCTAssertEqual(failure(utf8("[1,1.]"))?.description, "invalid JSON at byte 5: invalid number")
    }

    func testStringAndByteEntryPointsAgree() throws {
        let text = "{\"a\":[1,2.5,\"é\"]}"
        XCTAssertEqual(try JSONParser.parse(text), try JSONParser.parse(Array(text.utf8)))
    }
}

/// `JSONParser.valueEnd`: where a value ends, without building it.
final class JSONValueEndTests: XCTestCase {
    func testAValueEndsWhereTheParserSaysItDoes() {
        let texts = [#"{"a":[1,-2.5e-3,true,false,null,"x\"\\\u00e9"],"b":{}}"#, "[]", "{}", #""""#, "0", "-0.0", "1E+9",
                     "true", "null", #"[[[[1]]],{"k":"v"}]"#, #"{ "a" : [ 1 , 2 ] }"#, "\"é ✓\""]
        for text in texts {
            let bytes = Array(text.utf8)
            XCTAssertNoThrow(try JSONParser.parse(bytes), text)
            for tail in ["", ",", "]", "} x"] {
                let whole = bytes + Array(tail.utf8)
                XCTAssertEqual(whole.withUnsafeBytes { JSONParser.valueEnd(in: $0, from: 0) }, bytes.count, text + tail)
            }
            // Every cut of a container, string or literal is incomplete.
            if !(text.first?.isNumber ?? false) && text.first != "-" {
                for cut in 0..<bytes.count {
                    XCTAssertNil(Array(bytes[..<cut]).withUnsafeBytes { JSONParser.valueEnd(in: $0, from: 0) }, "\(text) cut at \(cut)")
                }
            }
        }
        let prefixed = Array(#"xx[1,{"a":2}],3"#.utf8)
        XCTAssertEqual(prefixed.withUnsafeBytes { JSONParser.valueEnd(in: $0, from: 2) }, 13)
    }

    func testInvalidValuesHaveNoEnd() {
        for text in ["", "x", "-", "1.", "1e", ".5", "+1", #""\q""#, #""\u12g4""#, "\"a\u{1}\"", "[1,]", "[1 2]", #"{"a"}"#,
                     #"{"a":1,}"#, #"{a:1}"#, "tru", "nul", "[" + String(repeating: "[", count: 80) + String(repeating: "]", count: 81)] {
            XCTAssertNil(Array(text.utf8).withUnsafeBytes { JSONParser.valueEnd(in: $0, from: 0) }, text)
        }
    }
}
