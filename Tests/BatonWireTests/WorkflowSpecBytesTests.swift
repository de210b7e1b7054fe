import XCTest

@testable import BatonWire

/// `writeJSON` must give exactly the bytes of the canonical tree it replaces (the store
/// keeps them, and idempotency compares specs by them), for every shape of spec.
final class WorkflowSpecBytesTests: XCTestCase {
    private var rng = SystemRandomNumberGenerator()

    private func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &rng) ? value() : nil }

    private func randomText() -> String {
        ["", "x", "déploiement ✓", "quote \" and \\ and \n", String(repeating: "long ", count: 40)].randomElement(using: &rng)!
    }

    private func randomArgs() -> [String: JSONValue] {
        let all: [String: JSONValue] = [
            "host": .string(randomText()), "n": .int(Int64.random(in: -5...5, using: &rng)), "dry_run": .bool(true),
            "Zone": .null, "list": [1, nil, .double(2.5)], "nested": ["b": 1, "a": ["z": "y"]], "é": "accent",
        ]
        return all.filter { _ in Bool.random(using: &rng) }
    }

    private func randomJob() -> JobSpec {
        JobSpec(type: ["echo", "disk.erase"].randomElement(using: &rng)!, name: maybe(randomText()), args: randomArgs(),
                timeoutMs: Int64.random(in: 0...90_000, using: &rng),
                retry: RetryPolicy(maxAttempts: Int.random(in: 1...9, using: &rng), backoffMs: Int64.random(in: 0...60_000, using: &rng)),
                heartbeatTimeoutMs: Bool.random(using: &rng) ? 0 : Int64.random(in: 1...60_000, using: &rng))
    }

    private func randomSpec() -> WorkflowSpec {
        WorkflowSpec(name: ["wf", "déploiement ✓", "quote \" and \\ and \n"].randomElement(using: &rng)!, description: maybe(randomText()), blocks: (0..<Int.random(in: 1...4, using: &rng)).map { _ in
            BlockSpec(description: maybe(randomText()), concurrency: Int.random(in: 1...64, using: &rng),
                      jobs: (0..<Int.random(in: 1...6, using: &rng)).map { _ in randomJob() })
        })
    }

    func testTheBytesAreTheTrees() throws {
        for _ in 0..<500 {
            let spec = randomSpec()
            var bytes: [UInt8] = []
            spec.writeJSON(into: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), String(decoding: JSONWriter.bytes(spec.json), as: UTF8.self))
            XCTAssertEqual(try WorkflowSpec.parse(JSONParser.parse(bytes)), spec, "read back as the same spec")
        }
    }
}
