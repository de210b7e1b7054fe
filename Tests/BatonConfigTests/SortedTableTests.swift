import BatonConfig
import BatonWire
import XCTest

final class SortedTableTests: XCTestCase {
    /// Against the dictionary it was made from: every key found with its value, keys
    /// not in it not found (before, between and after the entries), entries ascending.
    func testLooksUpAsTheDictionaryItWasMadeFrom() {
        var g = SystemRandomNumberGenerator()
        let alphabet = Array("abcxyz.-_09é")
        for _ in 0..<500 {
            var dictionary: [String: Int] = [:]
            for i in 0..<Int.random(in: 0...12, using: &g) {
                let key = String((0..<Int.random(in: 0...4, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
                dictionary[key] = i
            }
            let table = SortedTable(dictionary)
            XCTAssertEqual(table.entries.map(\.key), dictionary.keys.sorted())
            XCTAssertEqual(table.dictionary, dictionary)
            XCTAssertEqual(table.isEmpty, dictionary.isEmpty)
            for _ in 0..<20 {
                let probe = String((0..<Int.random(in: 0...4, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
                XCTAssertEqual(table[probe], dictionary[probe], "\(probe) in \(dictionary)")
            }
            for (key, value) in dictionary { XCTAssertEqual(table[key], value) }
        }
    }

    func testEqualityIsTheDictionarys() {
        XCTAssertEqual(SortedTable(["a": 1, "b": 2]), ["b": 2, "a": 1])
        XCTAssertNotEqual(SortedTable(["a": 1, "b": 2]), ["a": 1, "b": 3])
        XCTAssertNotEqual(SortedTable(["a": 1, "b": 2]), ["a": 1])
        XCTAssertNotEqual(SortedTable(["a": 1]), ["c": 1])
    }

    /// The denial names the first violation in key order (job type, then arg name),
    /// whatever order the config listed them in.
    func testArgsRuleNamesTheFirstViolationInKeyOrder() {
        let rule = PolicyRule.args([
            "zz.type": ["site": ArgConstraint(required: true)],
            "aa.type": ["zone": ArgConstraint(required: true), "rack": ArgConstraint(required: true)],
        ])
        let spec = WorkflowSpec(name: "w", blocks: [BlockSpec(concurrency: 1, jobs: [
            JobSpec(type: "zz.type", args: [:]), JobSpec(type: "aa.type", args: [:]),
        ])])
        XCTAssertEqual(rule.violation(spec, at: 0), "blocks[0].jobs[0] (zz.type) args.site is required")
        let later = WorkflowSpec(name: "w", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "aa.type", args: [:])])])
        XCTAssertEqual(rule.violation(later, at: 0), "blocks[0].jobs[0] (aa.type) args.rack is required")
    }

    /// A boolean argument is compared as the text JSON writes for it.
    func testABooleanArgMatchesItsJSONText() {
        let rule = PolicyRule.args(["echo": ["bench": ArgConstraint(required: true, allowed: ["true"])]])
        func spec(_ v: JSONValue) -> WorkflowSpec {
            WorkflowSpec(name: "w", blocks: [BlockSpec(concurrency: 1, jobs: [JobSpec(type: "echo", args: ["bench": v])])])
        }
        XCTAssertNil(rule.violation(spec(.bool(true)), at: 0))
        XCTAssertNil(rule.violation(spec(.string("true")), at: 0))
        XCTAssertEqual(rule.violation(spec(.bool(false)), at: 0), "blocks[0].jobs[0] (echo) args.bench is false, not one of \"true\"")
    }
}
