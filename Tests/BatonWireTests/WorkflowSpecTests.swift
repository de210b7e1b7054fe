import BatonWire
import XCTest

final class WorkflowSpecTests: XCTestCase {
    private func parse(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> WorkflowSpec? {
        do {
            return try WorkflowSpec.parse(try JSONParser.parse(text))
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return nil
        }
    }

    /// Asserts that the spec is refused with exactly `message` (code bad_request).
    private func assertRefused(_ json: JSONValue, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        assertBadRequest(message, { () throws(WireError) in try WorkflowSpec.parse(json) }, file: file, line: line)
    }

    /// A spec with one block holding `job`.
    private func withJob(_ job: JSONValue) -> JSONValue {
        ["name": "w", "blocks": [["jobs": [job]]]]
    }

    /// A spec with `block` as its only block.
    private func withBlock(_ block: JSONValue) -> JSONValue {
        ["name": "w", "blocks": [block]]
    }

    // MARK: Parsing

    func testDefaultsAreFilledIn() {
        let spec = parse(#"{"name":"w","blocks":[{"jobs":[{"type":"echo"}]}]}"#)
        XCTAssertEqual(spec, WorkflowSpec(name: "w", blocks: [
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", name: nil, args: [:], timeoutMs: 0,
                                                     retry: RetryPolicy(maxAttempts: 3, backoffMs: 1000))]),
        ]))
        XCTAssertEqual(RetryPolicy.standard, RetryPolicy(maxAttempts: 3, backoffMs: 1000))
    }

    func testEveryFieldIsRead() {
        let spec = parse("""
            {"name":"deploy","description":"d","blocks":[
              {"description":"b0","concurrency":4,"jobs":[
                {"type":"file.write","name":"j","args":{"path":"/tmp/x","n":[1,2]},"timeout_ms":30000,
                 "retry":{"max_attempts":5,"backoff_ms":0}}]},
              {"jobs":[{"type":"A-z_0.9"}]}]}
            """)
        XCTAssertEqual(spec, WorkflowSpec(name: "deploy", description: "d", blocks: [
            BlockSpec(description: "b0", concurrency: 4, jobs: [
                JobSpec(type: "file.write", name: "j", args: ["path": "/tmp/x", "n": [1, 2]], timeoutMs: 30000,
                        retry: RetryPolicy(maxAttempts: 5, backoffMs: 0)),
            ]),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "A-z_0.9")]),
        ]))
        XCTAssertEqual(spec?.jobCount, 2)
    }

    func testRetryKeysMayBeGivenAlone() {
        XCTAssertEqual(parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","retry":{"max_attempts":1}}]}]}"#)?
            .blocks[0].jobs[0].retry, RetryPolicy(maxAttempts: 1, backoffMs: 1000))
        XCTAssertEqual(parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","retry":{"backoff_ms":5}}]}]}"#)?
            .blocks[0].jobs[0].retry, RetryPolicy(maxAttempts: 3, backoffMs: 5))
        XCTAssertEqual(parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","retry":{}}]}]}"#)?
            .blocks[0].jobs[0].retry, .standard)
    }

    func testNullOptionalFieldsAreAbsent() {
        let spec = parse("""
            {"name":"w","description":null,"blocks":[{"description":null,"concurrency":null,"jobs":[
              {"type":"t","name":null,"args":null,"timeout_ms":null,"retry":null}]}]}
            """)
        XCTAssertEqual(spec, WorkflowSpec(name: "w", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "t")])]))
    }

    func testIntegralDoublesAreAcceptedForIntegerFields() {
        let spec = parse(#"{"name":"w","blocks":[{"concurrency":2.0,"jobs":[{"type":"t","timeout_ms":5e3,"retry":{"max_attempts":2.0}}]}]}"#)
        XCTAssertEqual(spec?.blocks[0].concurrency, 2)
        XCTAssertEqual(spec?.blocks[0].jobs[0].timeoutMs, 5000)
        XCTAssertEqual(spec?.blocks[0].jobs[0].retry.maxAttempts, 2)
    }

    /// Paths name many-digit indices too (they are written by hand, not interpolated).
    func testPathsNameTheBlockAndJobIndex() {
        let good: JSONValue = ["jobs": [["type": "t"]]]
        var jobs: [JSONValue] = Array(repeating: ["type": "t"], count: 123)
        jobs[107] = ["name": "no type"]
        let blocks: [JSONValue] = Array(repeating: good, count: 10) + [["jobs": .array(jobs)]]
        assertRefused(["name": "w", "blocks": .array(blocks)], "workflow.blocks[10].jobs[107].type: required")
    }

    func testUnknownKeysAreRefusedAtEveryLevelNamingKeyAndPath() {
        assertRefused(["name": "w", "x": 1, "blocks": [["jobs": [["type": "t"]]]]],
                      "workflow.x: unknown key; a workflow takes name, description, blocks")
        assertRefused(withBlock(["y": [], "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].y: unknown key; a block takes description, concurrency, jobs")
        assertRefused(withJob(["type": "echo", "timeout": 5000]),
                      "workflow.blocks[0].jobs[0].timeout: unknown key (did you mean \"timeout_ms\"?); a job takes type, name, args, timeout_ms, heartbeat_timeout_ms, retry")
        assertRefused(withJob(["type": "t", "retry": ["max_attempt": 2]]),
                      "workflow.blocks[0].jobs[0].retry.max_attempt: unknown key (did you mean \"max_attempts\"?); retry takes max_attempts, backoff_ms")
        assertRefused(withJob(["type": "t", "tpye": "x"]),
                      "workflow.blocks[0].jobs[0].tpye: unknown key (did you mean \"type\"?); a job takes type, name, args, timeout_ms, heartbeat_timeout_ms, retry")
        // Several unknown keys: the first in byte order is named, whatever the input order.
        assertRefused(withJob(["type": "t", "zz": 1, "aa": 2]),
                      "workflow.blocks[0].jobs[0].aa: unknown key; a job takes type, name, args, timeout_ms, heartbeat_timeout_ms, retry")
    }

    func testArgsAreNeverCheckedForKeys() {
        let spec = parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","args":{"anything":{"goes":1}}}]}]}"#)
        XCTAssertEqual(spec?.blocks[0].jobs[0].args["anything"], ["goes": 1])
    }

    func testBoundaryValuesAreAccepted() {
        let name = String(repeating: "n", count: WorkflowSpec.Limits.maxNameBytes)
        let type = String(repeating: "t", count: WorkflowSpec.Limits.maxTypeBytes)
        let spec = parse("""
            {"name":"\(name)","blocks":[{"concurrency":100000,"jobs":[
              {"type":"\(type)","timeout_ms":604800000,"retry":{"max_attempts":100,"backoff_ms":86400000}}]}]}
            """)
        XCTAssertEqual(spec?.name, name)
        XCTAssertEqual(spec?.blocks[0].jobs[0].timeoutMs, 604_800_000)
    }

    func testTheProtocolExamplesAreValid() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Protocol/examples").standardized
        let expected = ["failing.json": 2, "hello.json": 2, "lesson-file-write.json": 2, "three-blocks.json": 6]
        for (file, jobs) in expected {
            let data = try Data(contentsOf: dir.appendingPathComponent(file))
            let spec = try WorkflowSpec.parse(try JSONParser.parse([UInt8](data)))
            XCTAssertEqual(spec.jobCount, jobs, file)
            XCTAssertEqual(try WorkflowSpec.parse(spec.json), spec, file)
        }
    }

    // MARK: Errors, each with the exact field path

    func testWorkflowLevelErrors() {
        assertRefused("x", "workflow: must be an object, got a string")
        assertRefused([], "workflow: must be an object, got an array")
        assertRefused(["blocks": [["jobs": [["type": "t"]]]]], "workflow.name: required")
        assertRefused(["name": nil, "blocks": []], "workflow.name: required")
        assertRefused(["name": "", "blocks": []], "workflow.name: must not be empty")
        assertRefused(["name": 3, "blocks": []], "workflow.name: must be a string, got a number")
        assertRefused(["name": .string(String(repeating: "é", count: 101)), "blocks": []],
                      "workflow.name: longer than 200 bytes")
        assertRefused(["name": "w", "description": true, "blocks": []],
                      "workflow.description: must be a string, got a boolean")
        assertRefused(["name": "w", "description": .string(String(repeating: "d", count: 4097)), "blocks": []],
                      "workflow.description: longer than 4096 bytes")
        assertRefused(["name": "w"], "workflow.blocks: required")
        assertRefused(["name": "w", "blocks": ["jobs": []]], "workflow.blocks: must be an array, got an object")
        assertRefused(["name": "w", "blocks": []], "workflow.blocks: must hold at least one block")
    }

    func testBlockLevelErrors() {
        assertRefused(["name": "w", "blocks": [1]], "workflow.blocks[0]: must be an object, got a number")
        assertRefused(withBlock([:]), "workflow.blocks[0].jobs: required")
        assertRefused(withBlock(["jobs": "t"]), "workflow.blocks[0].jobs: must be an array, got a string")
        assertRefused(withBlock(["jobs": []]), "workflow.blocks[0].jobs: must hold at least one job")
        assertRefused(withBlock(["concurrency": 0, "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].concurrency: must be between 1 and 100000, got 0")
        assertRefused(withBlock(["concurrency": 100_001, "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].concurrency: must be between 1 and 100000, got 100001")
        assertRefused(withBlock(["concurrency": .double(1.5), "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].concurrency: must be an integer, got a number")
        assertRefused(withBlock(["concurrency": "2", "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].concurrency: must be an integer, got a string")
        assertRefused(withBlock(["description": [], "jobs": [["type": "t"]]]),
                      "workflow.blocks[0].description: must be a string, got an array")
    }

    func testJobLevelErrors() {
        assertRefused(withJob("t"), "workflow.blocks[0].jobs[0]: must be an object, got a string")
        assertRefused(withJob([:]), "workflow.blocks[0].jobs[0].type: required")
        assertRefused(withJob(["type": ""]), "workflow.blocks[0].jobs[0].type: must not be empty")
        assertRefused(withJob(["type": 1]), "workflow.blocks[0].jobs[0].type: must be a string, got a number")
        assertRefused(withJob(["type": .string(String(repeating: "t", count: 101))]),
                      "workflow.blocks[0].jobs[0].type: longer than 100 bytes")
        for bad in ["a b", "a/b", "é", "a:b", "a\u{0}", "*"] {
            assertRefused(withJob(["type": .string(bad)]),
                          "workflow.blocks[0].jobs[0].type: may hold only letters, digits, '.', '_' and '-'")
        }
        assertRefused(withJob(["type": "t", "name": 1]), "workflow.blocks[0].jobs[0].name: must be a string, got a number")
        assertRefused(withJob(["type": "t", "name": .string(String(repeating: "n", count: 4097))]),
                      "workflow.blocks[0].jobs[0].name: longer than 4096 bytes")
        assertRefused(withJob(["type": "t", "args": []]), "workflow.blocks[0].jobs[0].args: must be an object, got an array")
        assertRefused(withJob(["type": "t", "args": "{}"]), "workflow.blocks[0].jobs[0].args: must be an object, got a string")
        assertRefused(withJob(["type": "t", "timeout_ms": -1]),
                      "workflow.blocks[0].jobs[0].timeout_ms: must be between 0 and 604800000, got -1")
        assertRefused(withJob(["type": "t", "timeout_ms": 604_800_001]),
                      "workflow.blocks[0].jobs[0].timeout_ms: must be between 0 and 604800000, got 604800001")
        assertRefused(withJob(["type": "t", "retry": 3]), "workflow.blocks[0].jobs[0].retry: must be an object, got a number")
        assertRefused(withJob(["type": "t", "retry": ["max_attempts": 0]]),
                      "workflow.blocks[0].jobs[0].retry.max_attempts: must be between 1 and 100, got 0")
        assertRefused(withJob(["type": "t", "retry": ["max_attempts": 101]]),
                      "workflow.blocks[0].jobs[0].retry.max_attempts: must be between 1 and 100, got 101")
        assertRefused(withJob(["type": "t", "retry": ["backoff_ms": -1]]),
                      "workflow.blocks[0].jobs[0].retry.backoff_ms: must be between 0 and 86400000, got -1")
        assertRefused(withJob(["type": "t", "retry": ["backoff_ms": 86_400_001]]),
                      "workflow.blocks[0].jobs[0].retry.backoff_ms: must be between 0 and 86400000, got 86400001")
        assertRefused(withJob(["type": "t", "retry": ["backoff_ms": true]]),
                      "workflow.blocks[0].jobs[0].retry.backoff_ms: must be an integer, got a boolean")
    }

    func testThePathNamesTheRightBlockAndJob() {
        // The spec's own example (§12.2).
        assertRefused(["name": "broken", "blocks": [["jobs": [["type": "echo"]]], ["jobs": [["args": [:]]]]]],
                      "workflow.blocks[1].jobs[0].type: required")
        assertRefused(["name": "w", "blocks": [["jobs": [["type": "t"]]], ["jobs": [["type": "t"], ["type": "t"], ["type": "t", "retry": ["max_attempts": 0]]]]]],
                      "workflow.blocks[1].jobs[2].retry.max_attempts: must be between 1 and 100, got 0")
        // The first error in document order is the one reported.
        assertRefused(["name": "w", "blocks": [["jobs": [["type": "t"], [:]]], ["jobs": []]]],
                      "workflow.blocks[0].jobs[1].type: required")
    }

    func testACustomPathPrefix() {
        assertBadRequest("spec.blocks: required") { () throws(WireError) in try WorkflowSpec.parse(["name": "w"], path: "spec") }
    }

    func testTooManyBlocksAndJobs() {
        let block: JSONValue = ["jobs": [["type": "t"]]]
        assertRefused(["name": "w", "blocks": .array(Array(repeating: block, count: 10_001))],
                      "workflow.blocks: at most 10000 blocks")
        let job: JSONValue = ["type": "t"]
        let bigBlock: JSONValue = ["jobs": .array(Array(repeating: job, count: 60_000))]
        assertRefused(["name": "w", "blocks": [bigBlock, bigBlock]], "workflow.blocks: at most 100000 jobs in all")
        assertRefused(withBlock(["jobs": .array(Array(repeating: job, count: 100_001))]),
                      "workflow.blocks[0].jobs: at most 100000 jobs")
    }

    // MARK: JSON form

    func testJsonRoundTrips() throws {
        let spec = WorkflowSpec(name: "w", description: "d", blocks: [
            BlockSpec(description: "b", concurrency: 3, jobs: [
                JobSpec(type: "a", name: "n", args: ["k": ["x": [1, "y", nil, .double(0.5)]]], timeoutMs: 7,
                        retry: RetryPolicy(maxAttempts: 1, backoffMs: 0)),
                JobSpec(type: "b"),
            ]),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "c")]),
        ])
        XCTAssertEqual(try WorkflowSpec.parse(spec.json), spec)
        // Through bytes too, as the store keeps it.
        XCTAssertEqual(try WorkflowSpec.parse(try JSONParser.parse(JSONWriter.bytes(spec.json))), spec)
    }

    func testJsonIsCanonicalWithDefaultsFilledAndAbsentOptionalsLeftOut() {
        let spec = parse(#"{"blocks":[{"jobs":[{"type":"echo"}]}],"name":"w"}"#)!
        XCTAssertEqual(JSONWriter.string(spec.json), #"{"blocks":[{"concurrency":1,"jobs":[{"args":{},"retry":{"backoff_ms":1000,"max_attempts":3},"timeout_ms":0,"type":"echo"}]}],"name":"w"}"#)
    }

    func testEqualityIgnoresKeyOrderAndDefaultsSpelledOut() {
        let a = parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","args":{"a":1,"b":{"c":2,"d":3}}}]}]}"#)
        let b = parse(#"{"blocks":[{"concurrency":1,"jobs":[{"args":{"b":{"d":3,"c":2},"a":1},"retry":{"max_attempts":3.0},"type":"t"}]}],"name":"w"}"#)
        XCTAssertEqual(a, b)
        let c = parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","args":{"a":2,"b":{"c":2,"d":3}}}]}]}"#)
        XCTAssertNotEqual(a, c)
    }

    /// `WorkflowSpec.json`: "parsing it back gives an equal spec".
    func testSpecWithIntegralDoubleArgsRoundTripsThroughBytes() throws {
        let spec = parse(#"{"name":"w","blocks":[{"jobs":[{"type":"t","args":{"n":3.0}}]}]}"#)!
        XCTAssertEqual(spec.blocks[0].jobs[0].args["n"], .double(3))
        XCTAssertEqual(try WorkflowSpec.parse(try JSONParser.parse(JSONWriter.bytes(spec.json))), spec)
    }

    // MARK: RetryPolicy

    func testRetryDelayDoublesFromBackoff() {
        let p = RetryPolicy(maxAttempts: 10, backoffMs: 1000)
        XCTAssertEqual((1...5).map { p.delay(afterAttempt: $0) }, [1000, 2000, 4000, 8000, 16000])
        XCTAssertEqual(p.delay(afterAttempt: 0), 1000, "attempt numbers below 1 count as 1")
        XCTAssertEqual(RetryPolicy(maxAttempts: 3, backoffMs: 0).delay(afterAttempt: 7), 0)
    }

    func testRetryDelayIsCappedAtOneHour() {
        let p = RetryPolicy(maxAttempts: 100, backoffMs: 1000)
        XCTAssertEqual(p.delay(afterAttempt: 12), 2_048_000)
        XCTAssertEqual(p.delay(afterAttempt: 13), 3_600_000)
        XCTAssertEqual(p.delay(afterAttempt: 100), 3_600_000)
        XCTAssertEqual(p.delay(afterAttempt: .max), 3_600_000)
        let big = RetryPolicy(maxAttempts: 100, backoffMs: WorkflowSpec.Limits.maxBackoffMs)
        XCTAssertEqual(big.delay(afterAttempt: 1), 3_600_000)
        XCTAssertEqual(big.delay(afterAttempt: 100), 3_600_000)
        XCTAssertEqual(RetryPolicy(maxAttempts: 1, backoffMs: .max).delay(afterAttempt: 40), 3_600_000, "no overflow")
    }
}
