import BatonLogging
import BatonWire
import Logging
import XCTest

/// Both log formats as exact bytes (`LogLine` is pure: the time is an argument).
final class LogLineTests: XCTestCase {
    static let ms: Int64 = 1_764_921_476_123  // 2025-12-05T07:57:56.123Z

    private func line(_ format: LogFormat, _ message: String, level: Logger.Level = .info,
                      metadata: Logger.Metadata = [:]) -> String {
        String(decoding: LogLine.render(format, ms: Self.ms, level: level, label: "baton.broker", message: message,
                                        metadata: metadata), as: UTF8.self)
    }

    /// The text line is the one the CLI has always written, and leaves metadata out.
    func testTextIsTheLineItAlwaysWas() {
        XCTAssertEqual(line(.text, "workflow X submitted", metadata: ["workflow_id": "X"]),
                       "2025-12-05T07:57:56.123Z info baton.broker: workflow X submitted\n")
        XCTAssertEqual(line(.text, "lost", level: .warning), "2025-12-05T07:57:56.123Z warning baton.broker: lost\n")
    }

    func testJSONHasTheFixedKeysFirstThenEachMetadataKeyAsAStringField() {
        XCTAssertEqual(line(.json, "workflow X submitted", metadata: ["workflow_id": "X", "attempt": "\(2)"]),
                       #"{"time":"2025-12-05T07:57:56.123Z","level":"info","logger":"baton.broker","message":"workflow X submitted","attempt":"2","workflow_id":"X"}"#
                       + "\n")
    }

    /// Quotes, backslashes, newlines and control bytes are escaped by JSONWriter, so a
    /// message (a job's error text, a name from a client) can never break the line in two.
    func testJSONEscapesAndStaysOneLine() throws {
        let hostile = "say \"hi\"\\ then\nnext line\u{1}\ttab ünïcode"
        let bytes = LogLine.render(.json, ms: Self.ms, level: .error, label: "baton.worker", message: hostile,
                                   metadata: ["why": .string(hostile)])
        XCTAssertEqual(bytes.filter { $0 == 0x0A }.count, 1, "one newline: the one that ends the line")
        XCTAssertEqual(bytes.last, 0x0A)
        let object = try XCTUnwrap(JSONParser.parse(Array(bytes.dropLast())).objectValue)
        XCTAssertEqual(object["message"], .string(hostile))
        XCTAssertEqual(object["why"], .string(hostile))
        XCTAssertEqual(object["level"], "error")
        XCTAssertEqual(object["logger"], "baton.worker")
    }

    /// Metadata stays flat (every value a string), and never shadows a fixed key.
    func testJSONKeepsMetadataFlatAndTheFixedKeysIntact() throws {
        let bytes = LogLine.render(.json, ms: Self.ms, level: .info, label: "l", message: "m",
                                   metadata: ["message": "not the message", "types": ["echo", "sleep"],
                                              "n": .stringConvertible(42), "d": ["k": "v"]])
        let object = try XCTUnwrap(JSONParser.parse(Array(bytes.dropLast())).objectValue)
        XCTAssertEqual(object["message"], "m")
        XCTAssertEqual(object["metadata_message"], "not the message")
        XCTAssertEqual(object["n"], "42")
        XCTAssertEqual(object["types"], .string(#"["echo", "sleep"]"#), "swift-log's own rendering")
        XCTAssertEqual(object["d"], .string(#"["k": "v"]"#))
        XCTAssertEqual(object["time"], "2025-12-05T07:57:56.123Z")
    }

    /// The handler keeps metadata set on it (merged into each line; the event's wins)
    /// and its level, as swift-log asks of every handler.
    func testTheHandlerKeepsItsMetadataAndLevel() {
        var handler = LogLineHandler(label: "x", format: .json, logLevel: .debug)
        handler[metadataKey: "instance"] = "a"
        XCTAssertEqual(handler[metadataKey: "instance"], "a")
        XCTAssertEqual(handler.logLevel, .debug)
        XCTAssertEqual(LogFormat.names, "text, json")
    }
}
