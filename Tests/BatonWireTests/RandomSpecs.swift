@testable import BatonWire

/// Random specs of every shape the contract allows: texts with escapes and non-ASCII,
/// args of every JSON kind, optional members present or not. Shared by the tests that
/// compare a fast reader or writer with the tree it replaces.
final class RandomSpecs {
    var rng = SystemRandomNumberGenerator()

    func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &rng) ? value() : nil }

    func text() -> String {
        ["", "x", "déploiement ✓", "quote \" and \\ and \n", String(repeating: "long ", count: 40)].randomElement(using: &rng)!
    }

    func args() -> [String: JSONValue] {
        let all: [String: JSONValue] = [
            "host": .string(text()), "n": .int(Int64.random(in: -5...5, using: &rng)), "dry_run": .bool(true),
            "Zone": .null, "list": [1, nil, .double(2.5)], "nested": ["b": 1, "a": ["z": "y"]], "é": "accent",
        ]
        return all.filter { _ in Bool.random(using: &rng) }
    }

    func job() -> JobSpec {
        JobSpec(type: ["echo", "disk.erase"].randomElement(using: &rng)!, name: maybe(text()), args: args(),
                timeoutMs: Int64.random(in: 0...90_000, using: &rng),
                retry: RetryPolicy(maxAttempts: Int.random(in: 1...9, using: &rng), backoffMs: Int64.random(in: 0...60_000, using: &rng)),
                heartbeatTimeoutMs: Bool.random(using: &rng) ? 0 : Int64.random(in: 1...60_000, using: &rng))
    }

    func spec() -> WorkflowSpec {
        let name = ["wf", "déploiement ✓", "quote \" and \\ and \n"].randomElement(using: &rng)!
        let description = maybe(text())
        let blocks = (0..<Int.random(in: 1...4, using: &rng)).map { _ in
            BlockSpec(description: maybe(text()), concurrency: Int.random(in: 1...64, using: &rng),
                      jobs: (0..<Int.random(in: 1...6, using: &rng)).map { _ in job() })
        }
        return WorkflowSpec(name: name, description: description, blocks: blocks)
    }

    /// `bytes` with one to three random edits (a byte removed, inserted or replaced),
    /// drawn mostly from JSON's own characters so the result is often nearly valid.
    func broken(_ bytes: [UInt8]) -> [UInt8] {
        var bytes = bytes
        for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: bytes.remove(at: at)
            case 1: bytes.insert(Self.edits.randomElement(using: &rng)!, at: at)
            default: bytes[at] = Self.edits.randomElement(using: &rng)!
            }
        }
        return bytes
    }

    private static let edits = Array(#"{}[]":,0123456789-.eEnulltruefalse \ x"#.utf8) + [0x00, 0xC3, 0xFF]
}
