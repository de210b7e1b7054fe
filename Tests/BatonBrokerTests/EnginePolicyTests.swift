import BatonConfig
import BatonStore
import BatonWire
import XCTest

@testable import BatonBroker

/// Policies at SUBMIT and again at EXEC, on plain values with the injected clock.
final class EnginePolicyTests: XCTestCase {
    private func policies(_ yaml: String) throws -> PolicySet {
        try BrokerConfig.parse(yaml).policySet
    }

    private func erase(site: String, name: String = "satellite-disk-erase") -> WorkflowSpec {
        WorkflowSpec(name: name, blocks: [
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "validate.decom")]),
            BlockSpec(concurrency: 1, jobs: [JobSpec(type: "disk.erase", args: ["site": .string(site)])]),
        ])
    }

    private let erasePolicy = """
        default: deny
        policies:
          - name: satellite-erase
            workflows: ["satellite-*"]
            rules:
              - first_block: {job_type: validate.decom}
              - args: {disk.erase: {site: {required: true, pattern: "^[a-z]{3}[0-9]$"}}}
        """

    func testSubmitIsRefusedWithThePolicyAndRuleOnTheWire() throws {
        let h = try EngineHarness()
        h.engine.usePolicies(try policies(erasePolicy))
        let bad = h.request(.submit, SubmitRequest(workflow: erase(site: "NYC"), idempotencyKey: "k1").body.objectValue!)
        XCTAssertEqual(bad.command, .error)
        XCTAssertEqual(bad.body["code"], "policy_denied")
        XCTAssertEqual(bad.body["policy"], "satellite-erase")
        XCTAssertEqual(bad.body["rule"], "args")
        let message = try XCTUnwrap(bad.body["message"]?.stringValue)
        XCTAssertTrue(message.contains("satellite-erase") && message.contains("disk.erase") && message.contains("site"), message)
        XCTAssertEqual(try h.store.list(ListRequest()).workflows.count, 0, "a refused SUBMIT stores nothing")
        XCTAssertEqual(h.lookupsAnswered, 0, "refused before its key is looked up")

        XCTAssertEqual(h.request(.submit, SubmitRequest(workflow: erase(site: "nyc1")).body.objectValue!).command, .id)
    }

    func testANameNoPolicyCoversGetsTheDefault() throws {
        let h = try EngineHarness()
        h.engine.usePolicies(try policies(erasePolicy))
        let r = h.request(.submit, SubmitRequest(workflow: spec([jobs(1)], name: "rotate-logs")).body.objectValue!)
        XCTAssertEqual(r.body["code"], "policy_denied")
        XCTAssertEqual(r.body["rule"], "default")
        XCTAssertNil(r.body["policy"])
    }

    func testExecChecksAgainWithTheConfigInForceAndTheTimeWindow() throws {
        let h = try EngineHarness()
        // 1_800_000_000_000 ms is Friday 2027-01-15 08:00 UTC: outside a weekend night window.
        h.engine.usePolicies(try policies("""
            policies:
              - name: night
                workflows: [maintenance]
                rules:
                  - window: {days: [sat, sun], from: "02:00", to: "05:00"}
            """))
        let id = h.submit(spec([jobs(1)], name: "maintenance"))  // SUBMIT runs nothing: windows do not apply
        let refused = h.exec(id)
        XCTAssertEqual(refused.body["code"], "policy_denied")
        XCTAssertEqual(refused.body["rule"], "window")
        XCTAssertEqual(h.status(id).state, .submitted)

        h.engine.usePolicies(.allowAll)  // a reload that drops the policy
        XCTAssertEqual(h.exec(id).body["state"], "RUNNING")
    }

    func testADeniedExecOfARunningWorkflowChangesNothing() throws {
        let h = try EngineHarness()
        let id = h.submit(spec([jobs(1)], name: "hello"))
        h.exec(id)
        h.engine.usePolicies(try policies("default: deny"))
        XCTAssertEqual(h.exec(id).body["state"], "RUNNING", "EXEC of a started workflow starts nothing, so checks nothing")
    }

    /// A workflow that passed its SUBMIT's check has only the time rules checked at EXEC,
    /// but only under the same policies: after a reload, EXEC checks every rule again.
    func testExecAfterAReloadChecksEveryRuleOfTheNewPolicies() throws {
        let h = try EngineHarness()
        h.engine.usePolicies(try policies(erasePolicy))
        let id = h.submit(erase(site: "nyc1"))
        XCTAssertTrue(h.engine.passedSpecRules.contains(id))
        h.engine.usePolicies(try policies(erasePolicy.replacingOccurrences(of: "[0-9]$", with: "[0-9]{2}$")))
        let refused = h.exec(id)
        XCTAssertEqual(refused.body["code"], "policy_denied", "\(refused.body)")
        XCTAssertEqual(refused.body["rule"], "args")
        XCTAssertEqual(h.status(id).state, .submitted)

        let next = h.submit(erase(site: "nyc12"))
        XCTAssertEqual(h.exec(next).body["state"], "RUNNING")
        XCTAssertFalse(h.engine.passedSpecRules.contains(next), "EXEC takes the id out")
    }

    /// The set of workflows whose spec rules passed holds no workflow that left memory.
    func testAWorkflowThatEndsBeforeExecLeavesNoTrace() throws {
        let h = try EngineHarness()
        h.engine.usePolicies(try policies(erasePolicy))
        let cancelled = h.submit(erase(site: "nyc1"))
        let executed = h.submit(erase(site: "nyc2"))
        XCTAssertEqual(h.engine.passedSpecRules.count, 2)
        XCTAssertEqual(h.request(.cancel, ["id": .string(cancelled)]).body["state"], "CANCELLED")
        h.exec(executed)
        h.turn { _ in }
        XCTAssertTrue(h.engine.passedSpecRules.isEmpty)
        h.engine.usePolicies(.allowAll)
        h.submit(erase(site: "nyc3"))
        XCTAssertTrue(h.engine.passedSpecRules.isEmpty, "nothing to remember without policies")
    }
}
