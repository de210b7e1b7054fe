import XCTest

@testable import BatonWire

/// The typed spec reader (JSONParser+Spec.swift) against the tree path it short-cuts:
/// whatever it reads, the tree path reads as the same value; whatever the tree path
/// refuses, it gives up on (so the tree path words the error); and it does read the
/// specs clients and the store really send, or it would save nothing.
final class JSONParserSpecTests: XCTestCase {
    private let random = RandomSpecs()

    // MARK: The property

    /// The typed reader's spec, after checking it against the tree path's answer.
    @discardableResult
    private func checkSpec(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> WorkflowSpec? {
        checkTypedAgainstTree(bytes, typed: bytes.withUnsafeBytes { JSONParser.plainSpec($0) },
                              tree: Result { try WorkflowSpec.parse(JSONParser.parse(bytes)) }, file: file, line: line)
    }

    @discardableResult
    private func checkSubmit(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> SubmitRequest? {
        checkTypedAgainstTree(bytes, typed: JSONParser.plainSubmit(bytes),
                              tree: Result { try SubmitRequest(body: decodeBody(bytes)) }, file: file, line: line)
    }

    private func canonical(_ spec: WorkflowSpec) -> [UInt8] {
        var bytes: [UInt8] = []
        spec.writeJSON(into: &bytes)
        return bytes
    }

    // MARK: Valid specs are read, and read the same

    func testStoredSpecsAreReadAsTheTreeReadsThem() {
        for _ in 0..<500 {
            let spec = random.spec()
            XCTAssertEqual(checkSpec(canonical(spec)), spec, "the store's canonical JSON takes the typed path")
            XCTAssertEqual(try WorkflowSpec.parse(jsonText: String(decoding: canonical(spec), as: UTF8.self)), spec)
        }
    }

    func testSubmitBodiesAreReadAsTheTreeReadsThem() {
        for i in 0..<300 {
            let spec = random.spec()
            let key: String? = i % 2 == 0 ? "key-\(i) ✓" : nil
            let body = JSONWriter.bytes(SubmitRequest(workflow: spec, idempotencyKey: key).body)
            XCTAssertEqual(checkSubmit(body), SubmitRequest(workflow: spec, idempotencyKey: key))
        }
    }

    func testHandWrittenSpecsWithSpacesNullsAndDefaultsAreRead() {
        let spaced = """
             { "name" : "a" , "description" : null ,
               "blocks" : [ { "concurrency" : null , "jobs" : [
                 { "type" : "echo" , "args" : null , "retry" : null , "name" : null , "timeout_ms" : null },
                 { "type" : "x-1_y.z", "args" : { "a" : [ 1 , { "b" : null } ] }, "retry" : { } , "heartbeat_timeout_ms" : 0 }
               ] } ] }\t\r\n
            """
        XCTAssertEqual(checkSpec(utf8(spaced)), WorkflowSpec(name: "a", blocks: [BlockSpec(concurrency: 1, jobs: [
            JobSpec(type: "echo"), JobSpec(type: "x-1_y.z", args: ["a": [1, ["b": nil]]]),
        ])]))
        XCTAssertNotNil(checkSubmit(utf8(#"{"idempotency_key":null,"workflow":{"name":"a","blocks":[{"jobs":[{"type":"echo"}]}]}}"#)))
    }

    // MARK: Anything else is left to the tree path

    /// Specs the tree path refuses, or reads only through a form the typed reader does not
    /// take (an escaped key, 2.0 for 2, 1e3 for 1000): the reader must give up on each.
    func testTheReaderGivesUpOnEverythingButPlainlyValidSpecs() {
        let job = #"{"type":"echo"}"#
        func wf(name: String = #""a""#, blocks: String? = nil, extra: String = "") -> String {
            #"{"name":\#(name),"blocks":\#(blocks ?? #"[{"jobs":[\#(job)]}]"#)\#(extra)}"#
        }
        func withJob(_ j: String) -> String { wf(blocks: #"[{"jobs":[\#(j)]}]"#) }
        func withBlock(_ b: String) -> String { wf(blocks: "[\(b)]") }
        let deep = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        let cases: [String] = [
            wf(extra: #","x":1"#), wf(extra: #","name":"b""#), wf(name: "null"), wf(name: #""""#), wf(name: "1"),
            wf(name: "\"\(String(repeating: "n", count: 201))\""), wf(blocks: "[]"), wf(blocks: "null"), wf(blocks: "{}"),
            #"{"blocks":[{"jobs":[{"type":"echo"}]}]}"#, #"{"name":"a"}"#, wf() + " x", wf() + ",", "[" + wf() + "]",
            #"{"n\u0061me":"a","blocks":[{"jobs":[{"type":"echo"}]}]}"#, wf(extra: #","description":7"#),
            withBlock(#"{"jobs":[]}"#), withBlock(#"{}"#), withBlock(#"{"jobs":[\#(job)],"x":1}"#),
            withBlock(#"{"jobs":[\#(job)],"concurrency":0}"#), withBlock(#"{"jobs":[\#(job)],"concurrency":100001}"#),
            withBlock(#"{"jobs":[\#(job)],"concurrency":2.0}"#), withBlock(#"{"jobs":[\#(job)],"concurrency":"2"}"#),
            withBlock(#"{"jobs":[\#(job)],"jobs":[\#(job)]}"#), withBlock(#"{"jobs":\#(job)}"#),
            withJob(#"{}"#), withJob(#"{"type":""}"#), withJob(#"{"type":"bad type"}"#), withJob(#"{"type":null}"#),
            withJob("{\"type\":\"\(String(repeating: "t", count: 101))\"}"), withJob(#"{"type":"echo","args":[]}"#),
            withJob(#"{"type":"echo","args":"x"}"#), withJob(#"{"type":"echo","args":{"a":1,"a":2}}"#),
            withJob(#"{"type":"echo","args":{"a":\#(deep)}}"#), withJob(#"{"type":"echo","timeout_ms":-1}"#),
            withJob(#"{"type":"echo","timeout_ms":1e3}"#), withJob(#"{"type":"echo","timeout_ms":604800001}"#),
            withJob(#"{"type":"echo","heartbeat_timeout_ms":true}"#), withJob(#"{"type":"echo","retry":5}"#),
            withJob(#"{"type":"echo","retry":{"max_attempts":0}}"#), withJob(#"{"type":"echo","retry":{"max_attempts":101}}"#),
            withJob(#"{"type":"echo","retry":{"backoff_ms":86400001}}"#), withJob(#"{"type":"echo","retry":{"tries":3}}"#),
            withJob(#"{"type":"echo","retry":{"max_attempts":2,"max_attempts":3}}"#), withJob(#"{"type":"echo","timeout":5}"#),
            withJob(#"{"type":"echo","name":"\ud800"}"#),
            withJob(#"{"type":"echo","type":"echo"}"#), withJob(#"{"type":"echo"  "name":"x"}"#), withJob(#"{"type":"echo",}"#),
        ]
        for text in cases {
            XCTAssertNil(checkSpec(utf8(text)), text)
            XCTAssertNil(checkSubmit(utf8(#"{"workflow":\#(text)}"#)), text)
        }
        var invalidUTF8 = utf8(withJob(#"{"type":"echo","name":"AB"}"#))
        invalidUTF8[invalidUTF8.firstIndex(of: UInt8(ascii: "A"))!] = 0xC3
        XCTAssertNil(checkSpec(invalidUTF8))

        let valid = wf()
        for body in [#"{"workflow":\#(valid),"idempotency_key":""}"#, #"{"workflow":\#(valid),"idempotency_key":7}"#,
                     "{\"workflow\":\(valid),\"idempotency_key\":\"\(String(repeating: "k", count: 257))\"}",
                     #"{"workflow":\#(valid),"labels":{}}"#, #"{"workflow":\#(valid),"workflow":\#(valid)}"#,
                     #"{"idempotency_key":"k"}"#, #"{"workflow":null}"#, "[]", valid] {
            XCTAssertNil(checkSubmit(utf8(body)), body)
        }
    }

    /// Valid specs broken at random places: wherever the typed reader still reads one,
    /// the tree path must read the same.
    func testRandomlyBrokenSpecsAreNeverReadOtherwiseThanByTheTree() {
        var read = 0
        for n in 0..<3_000 {
            let bytes = random.broken(canonical(random.spec()))
            if checkSpec(bytes) != nil { read += 1 }
            if n % 3 == 0 { checkSubmit(utf8(#"{"workflow":"#) + bytes + utf8("}")) }
        }
        // Some changes keep the spec valid (a digit for a digit inside a string): those
        // are read. If none were, the reader would be giving up on everything.
        XCTAssertGreaterThan(read, 0)
    }

    // MARK: Where the broker uses it

    func testTheBrokersDecodeReadsSubmitTypedAndLeavesTheRestToTheTree() throws {
        let spec = random.spec()
        let body = JSONWriter.bytes(SubmitRequest(workflow: spec, idempotencyKey: "k").body)
        let typed = try ClientFrames.decodeRequest(frames("", "BATON/1", "SUBMIT", "t1")[...] + [body], typedBodies: true)
        XCTAssertEqual(typed.submit, SubmitRequest(workflow: spec, idempotencyKey: "k"))
        XCTAssertEqual(typed.body, [:])
        XCTAssertEqual(typed.tag, utf8("t1"))
        XCTAssertNil(try ClientFrames.decodeRequest(frames("", "BATON/1", "SUBMIT", "t1")[...] + [body]).submit,
                     "only the broker asks for it: other readers of SUBMIT see its body")

        let unknownMember = utf8(#"{"workflow":{"name":"a","blocks":[{"jobs":[{"type":"echo"}]}]},"labels":{"team":"sre"}}"#)
        let tree = try ClientFrames.decodeRequest(frames("", "BATON/1", "SUBMIT", "t2")[...] + [unknownMember], typedBodies: true)
        XCTAssertNil(tree.submit)
        XCTAssertEqual(tree.body["labels"], ["team": "sre"])

        for bad in [#"{"workflow":{"name":"","blocks":[]}}"#, #"{"workflow":"#, "\u{1}"] {
            let f = frames("", "BATON/1", "SUBMIT", "t3", bad)[...]
            assertSameOutcome(Result { try ClientFrames.decodeRequest(f, typedBodies: true) }, Result { try ClientFrames.decodeRequest(f) }, bad)
        }
    }

    /// EXEC, CANCEL and STATUS bodies that hold the id alone are read typed; every body,
    /// typed or not, names the same workflow (or fails with the same error) as the tree.
    func testTheBrokersDecodeReadsAnIdAloneTypedAndLeavesTheRestToTheTree() throws {
        let id128 = String(repeating: "a", count: 128), id129 = String(repeating: "a", count: 129)
        let plain = [#"{"id":"01JZ5Q7N4M2X8K3V9B6T1R0CDE"}"#, #" { "id" : "w-1" } "#, #"{"id":"a\u0062"}"#, "{\"id\":\"\(id128)\"}",
                     #"{"id":"über"}"#]
        let tree = [#"{"id":"w","extra":1}"#, #"{"jobs_from":3,"id":"w"}"#, #"{"id":null}"#, #"{}"#]
        let bad = [#"{"id":""}"#, "{\"id\":\"\(id129)\"}", #"{"id":7}"#, #"{"id":"a","id":"b"}"#, #"{"id":"a"} x"#,
                   #"{"id":"a""#, #"["id"]"#, "", "{\"id\":\"\u{1}\"}"]
        for command in ["EXEC", "CANCEL", "STATUS"] {
            for body in plain + tree + bad {
                let f = frames("", "BATON/1", command, "t", body)[...]
                let typed = Result { try ClientFrames.decodeRequest(f, typedBodies: true) }
                let untyped = Result { try ClientFrames.decodeRequest(f) }
                switch (typed, untyped) {
                case (.success(let a), .success(let b)):
                    XCTAssertNil(b.ref, "only the broker asks for it")
                    XCTAssertEqual(a.ref != nil, plain.contains(body), "\(command) \(body): read typed only when the id is alone and plain")
                    if command == "STATUS" {
                        assertSameOutcome(Result { try a.statusRequest() }, Result { try StatusRequest(body: b.body) }, body)
                    } else {
                        assertSameOutcome(Result { try a.workflowRef() }, Result { try WorkflowRef(body: b.body) }, body)
                    }
                    if bad.contains(body) { XCTAssertThrowsError(try a.workflowRef(), body) }
                case (.failure(let a), .failure(let b)):
                    XCTAssertEqual("\(a)", "\(b)", body)
                default:
                    XCTFail("\(typed) but \(untyped): \(body)")
                }
            }
        }
        XCTAssertNil(try ClientFrames.decodeRequest(frames("", "BATON/1", "WATCH", "t", #"{"id":"w"}"#)[...], typedBodies: true).ref,
                     "WATCH reads more than the id")
    }
}
