import XCTest

@testable import BatonWire

/// The typed RESULT reader (JSONParser+Result.swift) against `ResultBody(body:)`: what it
/// reads, the tree path reads the same; what the tree path refuses, it gives up on; and
/// it reads the RESULTs workers really send.
final class JSONParserResultTests: XCTestCase {
    private let random = RandomSpecs()

    @discardableResult
    private func check(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> ResultBody? {
        checkTypedAgainstTree(bytes, typed: JSONParser.plainResult(bytes),
                              tree: Result { try ResultBody(body: decodeBody(bytes)) }, file: file, line: line)
    }

    private func randomResult() -> ResultBody {
        let ok = Bool.random(using: &random.rng)
        let output: JSONValue? = random.maybe(.object(random.args()))
        return ResultBody(jobId: "01JDQ8ZK4M3V7W2XN9RTBCEFGH.\(Int.random(in: 0...9, using: &random.rng)).0",
                          attempt: Int.random(in: 1...5, using: &random.rng), ok: ok,
                          output: ok ? output : nil, error: ok ? nil : random.text(), retryable: ok || Bool.random(using: &random.rng))
    }

    func testResultsAsWorkersSendThemAreReadAsTheTreeReadsThem() {
        for _ in 0..<500 {
            let result = randomResult()
            XCTAssertEqual(check(JSONWriter.bytes(.object(result.body))), result)
        }
        XCTAssertEqual(check(utf8(#" { "ok" : true , "attempt" : 2 , "job_id" : "w.0.1" , "output" : null , "error" : null , "retryable" : null } "#)),
                       ResultBody(jobId: "w.0.1", attempt: 2, ok: true))
        XCTAssertEqual(check(utf8(#"{"job_id":"w.0.1","attempt":1,"ok":true,"output":[1,"two",{"three":3.5}]}"#))?.output,
                       [1, "two", ["three": .double(3.5)]])
    }

    func testTheReaderGivesUpOnEverythingButPlainlyValidResults() {
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        let cases = [
            #"{"attempt":1,"ok":true}"#, #"{"job_id":"j","ok":true}"#, #"{"job_id":"j","attempt":1}"#,
            #"{"job_id":"","attempt":1,"ok":true}"#, #"{"job_id":null,"attempt":1,"ok":true}"#, #"{"job_id":7,"attempt":1,"ok":true}"#,
            "{\"job_id\":\"\(String(repeating: "j", count: 1025))\",\"attempt\":1,\"ok\":true}",
            #"{"job_id":"j","attempt":0,"ok":true}"#, #"{"job_id":"j","attempt":2147483648,"ok":true}"#,
            #"{"job_id":"j","attempt":1.0,"ok":true}"#, #"{"job_id":"j","attempt":"1","ok":true}"#,
            #"{"job_id":"j","attempt":1,"ok":null}"#, #"{"job_id":"j","attempt":1,"ok":1}"#, #"{"job_id":"j","attempt":1,"ok":tru}"#,
            #"{"job_id":"j","attempt":1,"ok":true,"retryable":"no"}"#, #"{"job_id":"j","attempt":1,"ok":false,"error":5}"#,
            "{\"job_id\":\"j\",\"attempt\":1,\"ok\":false,\"error\":\"\(String(repeating: "e", count: 65537))\"}",
            #"{"job_id":"j","attempt":1,"ok":true,"output":{"a":1,"a":2}}"#, #"{"job_id":"j","attempt":1,"ok":true,"output":\#(deep)}"#,
            #"{"job_id":"j","attempt":1,"ok":true,"ok":false}"#, #"{"job_id":"j","attempt":1,"ok":true,"extra":1}"#,
            #"{"j\u006fb_id":"j","attempt":1,"ok":true}"#, #"{"job_id":"j","attempt":1,"ok":true} x"#, #"{"job_id":"j","attempt":1,"ok":true,}"#,
            #"{"job_id":"j","attempt":1 "ok":true}"#, #"[{"job_id":"j","attempt":1,"ok":true}]"#, "",
        ]
        for text in cases { XCTAssertNil(check(utf8(text)), text) }
    }

    func testRandomlyBrokenResultsAreNeverReadOtherwiseThanByTheTree() {
        var read = 0
        for _ in 0..<3_000 {
            let bytes = random.broken(JSONWriter.bytes(.object(randomResult().body)))
            if check(bytes) != nil { read += 1 }
        }
        XCTAssertGreaterThan(read, 0, "some changes keep the RESULT valid; those are read")
    }

    func testTheBrokersDecodeReadsResultTypedAndLeavesTheRestToTheTree() throws {
        let result = ResultBody(jobId: "w.0.0", attempt: 1, ok: true, output: ["n": 1])
        let body = JSONWriter.bytes(.object(result.body))
        let f = frames("", "BATON-W/1", "RESULT")[...] + [body]
        let typed = try WorkerFrames.decode(f, typedResult: true)
        XCTAssertEqual(typed.result, result)
        XCTAssertEqual(typed.body, [:])
        XCTAssertNil(try WorkerFrames.decode(f).result, "only the broker asks for it: workers and tools see the body")

        let tree = try WorkerFrames.decode(frames("", "BATON-W/1", "RESULT", #"{"job_id":"w.0.0","attempt":1,"ok":true,"note":"x"}"#)[...],
                                           typedResult: true)
        XCTAssertNil(tree.result)
        XCTAssertEqual(tree.body["note"], "x")
        for bad in [#"{"job_id":"w.0.0","attempt":0,"ok":true}"#, #"{"job_id":"#, "\u{1}"] {
            let g = frames("", "BATON-W/1", "RESULT", bad)[...]
            assertSameOutcome(Result { try WorkerFrames.decode(g, typedResult: true) }, Result { try WorkerFrames.decode(g) }, bad)
        }
    }
}
