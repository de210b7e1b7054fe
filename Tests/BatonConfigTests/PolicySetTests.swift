import BatonConfig
import BatonWire
import XCTest

final class PolicySetTests: XCTestCase {
    // 2026-12-05 is a Saturday.
    static func at(_ iso: String) -> Int64 { Timestamp.parse(iso)! }
    static let satNight = at("2026-12-05T03:00:00Z")
    static let monNoon = at("2026-12-07T12:00:00Z")

    static func job(_ type: String, _ args: [String: JSONValue] = [:]) -> JobSpec { JobSpec(type: type, args: args) }

    static func erase(_ site: String) -> JobSpec { job("disk.erase", ["site": .string(site)]) }

    static func workflow(_ name: String, _ blocks: [[JobSpec]], concurrency: Int = 1) -> WorkflowSpec {
        WorkflowSpec(name: name, blocks: blocks.map { BlockSpec(concurrency: concurrency, jobs: $0) })
    }

    /// The lesson's workflow: validate, then erase in one site.
    static func satellite(_ name: String = "satellite-disk-erase", erases: [JobSpec]? = nil, concurrency: Int = 2) -> WorkflowSpec {
        workflow(name, [[job("validate.decom")], erases ?? [erase("sfo2"), erase("sfo2"), erase("sfo2")]], concurrency: concurrency)
    }

    struct Case {
        var what: String
        var spec: WorkflowSpec
        var at: Int64 = PolicySetTests.satNight
        var phase: PolicyPhase = .exec
        /// nil: allowed; else the denial's text.
        var denied: String?
    }

    func testTheIssueExampleAcceptsAndDenies() throws {
        let set = try BrokerConfig.parse(BrokerConfigTests.issueExample).policySet
        let many = (0..<51).map { _ in [Self.job("sleep")] }
        let p = "policy \"satellite-erase\" rule"
        let cases: [Case] = [
            Case(what: "the lesson's workflow in the window", spec: Self.satellite()),
            Case(what: "a glob-covered name", spec: Self.satellite("satellite-weekend")),
            Case(what: "allowed type not in the list", spec: Self.workflow("satellite-x", [[Self.job("validate.decom")], [Self.erase("sfo2"), Self.job("rm.rf")]]),
                 denied: "\(p) allowed_job_types: blocks[1].jobs[1] (rm.rf) type \"rm.rf\" is not allowed (allowed: validate.decom, disk.erase, sleep)"),
            Case(what: "erases in two sites", spec: Self.satellite(erases: [Self.erase("sfo2"), Self.erase("sfo2"), Self.erase("sfo2"), Self.erase("nyc1")]),
                 denied: "\(p) same_args: blocks[1].jobs[3] (disk.erase) args.site is \"nyc1\", other disk.erase jobs have \"sfo2\""),
            Case(what: "an erase without a site among erases with one", spec: Self.satellite(erases: [Self.erase("sfo2"), Self.job("disk.erase")]),
                 denied: "\(p) same_args: blocks[1].jobs[1] (disk.erase) args.site is absent, other disk.erase jobs have \"sfo2\""),
            Case(what: "an erase before validation", spec: Self.workflow("satellite-x", [[Self.job("validate.decom"), Self.erase("sfo2")]]),
                 denied: "\(p) first_block: blocks[0].jobs[1] (disk.erase) type is not validate.decom: the first block must hold only validate.decom jobs"),
            Case(what: "too many blocks", spec: Self.workflow("satellite-x", [[Self.job("validate.decom")]] + many),
                 denied: "\(p) limits: blocks: 52 blocks, at most 50 (max_blocks)"),
            Case(what: "too many jobs", spec: Self.satellite(erases: Array(repeating: Self.erase("sfo2"), count: 500)),
                 denied: "\(p) limits: blocks: 501 jobs in all, at most 500 (max_jobs)"),
            Case(what: "too much concurrency", spec: Self.satellite(concurrency: 11),
                 denied: "\(p) limits: blocks[0].concurrency is 11, at most 10 (max_concurrency)"),
            Case(what: "a site the pattern refuses", spec: Self.satellite(erases: [Self.erase("SFO2")]),
                 denied: "\(p) args: blocks[1].jobs[0] (disk.erase) args.site is \"SFO2\", which does not match /^[a-z]{3}[0-9]$/"),
            Case(what: "a required arg missing everywhere", spec: Self.satellite(erases: [Self.job("disk.erase"), Self.job("disk.erase")]),
                 denied: "\(p) args: blocks[1].jobs[0] (disk.erase) args.site is required"),
            Case(what: "a site that is not a string", spec: Self.satellite(erases: [Self.job("disk.erase", ["site": ["sfo2"]])]),
                 denied: "\(p) args: blocks[1].jobs[0] (disk.erase) args.site is [\"sfo2\"], which does not match /^[a-z]{3}[0-9]$/"),
            Case(what: "EXEC outside the window", spec: Self.satellite(), at: Self.monNoon,
                 denied: "\(p) window: now is Mon 12:00 UTC, outside the window sat, sun 02:00-05:00 UTC"),
            Case(what: "SUBMIT outside the window: window is checked at EXEC only", spec: Self.satellite(), at: Self.monNoon, phase: .submit),
            Case(what: "SUBMIT still checks every other rule", spec: Self.satellite(erases: [Self.erase("SFO2")]), at: Self.monNoon, phase: .submit,
                 denied: "\(p) args: blocks[1].jobs[0] (disk.erase) args.site is \"SFO2\", which does not match /^[a-z]{3}[0-9]$/"),
            Case(what: "the window's first minute", spec: Self.satellite(), at: Self.at("2026-12-06T02:00:00Z")),
            Case(what: "the window's last minute", spec: Self.satellite(), at: Self.at("2026-12-06T04:59:59.999Z")),
            Case(what: "the window's end is exclusive", spec: Self.satellite(), at: Self.at("2026-12-05T05:00:00Z"),
                 denied: "\(p) window: now is Sat 05:00 UTC, outside the window sat, sun 02:00-05:00 UTC"),
            Case(what: "a name no policy covers, default deny", spec: Self.workflow("hello", [[Self.job("echo")]]),
                 denied: "no policy covers workflow \"hello\" and default is deny"),
        ]
        check(set, cases)
    }

    func testWindowsCrossingMidnightAndEnumsAndDefaultAllow() throws {
        let set = try BrokerConfig.parse("""
            default: allow
            policies:
              - name: night
                workflows: ["night-*"]
                rules:
                  - window: {days: [fri], from: "22:00", to: "02:00"}
              - name: files
                workflows: [night-files, files]
                rules:
                  - args: {file.write: {path: {enum: [/tmp/a, /tmp/b]}, mode: {pattern: "^[0-7]{3}$"}}}
            """).policySet
        let night = Self.workflow("night-job", [[Self.job("echo")]])
        func write(_ args: [String: JSONValue]) -> WorkflowSpec { Self.workflow("files", [[Self.job("echo"), Self.job("file.write", args)]]) }
        let w = "policy \"night\" rule window: now is"
        let files = "policy \"files\" rule args: blocks[0].jobs[1] (file.write)"
        let cases: [Case] = [
            Case(what: "Friday after the window opens", spec: night, at: Self.at("2026-12-04T22:00:00Z")),
            Case(what: "Saturday before it closes (opened Friday)", spec: night, at: Self.at("2026-12-05T01:59:00Z")),
            Case(what: "Saturday when it closes", spec: night, at: Self.at("2026-12-05T02:00:00Z"),
                 denied: "\(w) Sat 02:00 UTC, outside the window fri 22:00-02:00 UTC"),
            Case(what: "Friday before it opens", spec: night, at: Self.at("2026-12-04T21:59:00Z"),
                 denied: "\(w) Fri 21:59 UTC, outside the window fri 22:00-02:00 UTC"),
            Case(what: "Friday early morning belongs to Thursday's window", spec: night, at: Self.at("2026-12-04T01:00:00Z"),
                 denied: "\(w) Fri 01:00 UTC, outside the window fri 22:00-02:00 UTC"),
            Case(what: "Saturday night is not Friday", spec: night, at: Self.at("2026-12-05T23:00:00Z"),
                 denied: "\(w) Sat 23:00 UTC, outside the window fri 22:00-02:00 UTC"),
            Case(what: "allowed path, octal mode written as a number", spec: write(["path": "/tmp/a", "mode": 644])),
            Case(what: "optional args may be absent", spec: write([:])),
            Case(what: "a path outside the enum", spec: write(["path": "/etc/passwd"]),
                 denied: "\(files) args.path is \"/etc/passwd\", not one of \"/tmp/a\", \"/tmp/b\""),
            Case(what: "a mode the pattern refuses", spec: write(["path": "/tmp/b", "mode": "9"]),
                 denied: "\(files) args.mode is \"9\", which does not match /^[0-7]{3}$/"),
            Case(what: "both policies apply: the first in file order denies first",
                 spec: Self.workflow("night-files", [[Self.job("file.write", ["path": "/x"])]]), at: Self.monNoon,
                 denied: "\(w) Mon 12:00 UTC, outside the window fri 22:00-02:00 UTC"),
            Case(what: "both policies apply: the second denies inside the window",
                 spec: Self.workflow("night-files", [[Self.job("file.write", ["path": "/x"])]]), at: Self.at("2026-12-04T23:00:00Z"),
                 denied: "policy \"files\" rule args: blocks[0].jobs[0] (file.write) args.path is \"/x\", not one of \"/tmp/a\", \"/tmp/b\""),
            Case(what: "a name no policy covers, default allow", spec: Self.workflow("hello", [[Self.job("rm.rf")]])),
        ]
        check(set, cases)
    }

    func testAPolicyWithoutRulesAdmitsItsNamesUnderDefaultDeny() throws {
        let set = try BrokerConfig.parse("default: deny\npolicies:\n  - name: examples\n    workflows: [hello]").policySet
        XCTAssertEqual(set.check(Self.workflow("hello", [[Self.job("echo")]]), at: 0, phase: .submit), .allowed)
        XCTAssertEqual(set.check(Self.workflow("hello2", [[Self.job("echo")]]), at: 0, phase: .submit),
                       .denied(PolicyDenial(policy: nil, rule: nil, detail: "no policy covers workflow \"hello2\" and default is deny")))
    }

    func testTheReportListsEveryRuleAndAgreesWithCheck() throws {
        let set = try BrokerConfig.parse(BrokerConfigTests.issueExample).policySet
        let spec = Self.satellite(erases: [Self.erase("sfo2"), Self.erase("nyc1")])
        let report = set.report(spec, at: Self.monNoon, phase: .submit)
        XCTAssertEqual(report.policies.map(\.name), ["satellite-erase"])
        XCTAssertEqual(report.policies[0].rules.map(\.kind), RuleKind.allCases.filter { $0 != .owners }, "every kind but owners (a key rule)")
        XCTAssertEqual(report.policies[0].rules.map(\.result), [
            .passed, .failed("blocks[1].jobs[1] (disk.erase) args.site is \"nyc1\", other disk.erase jobs have \"sfo2\""),
            .passed, .passed, .passed, .skipped("checked at exec only"),
        ])
        XCTAssertEqual(report.verdict, set.check(spec, at: Self.monNoon, phase: .submit))
        guard case .denied(let d) = report.verdict else { return XCTFail("allowed") }
        XCTAssertEqual(d.policy, "satellite-erase")
        XCTAssertEqual(d.rule, .sameArgs)
    }

    private func check(_ set: PolicySet, _ cases: [Case], line: UInt = #line) {
        for c in cases {
            let verdict = set.check(c.spec, at: c.at, phase: c.phase)
            switch (verdict, c.denied) {
            case (.allowed, nil): break
            case (.allowed, let want?): XCTFail("\(c.what): allowed, want denied: \(want)", line: line)
            case (.denied(let d), nil): XCTFail("\(c.what): denied: \(d)", line: line)
            case (.denied(let d), let want?): XCTAssertEqual(d.description, want, c.what, line: line)
            }
        }
    }

    /// For a spec that passed SUBMIT's check, EXEC's check of the time rules alone gives
    /// the full check's verdict, in and out of the window; it skips the rest, so it is
    /// only for such specs (a spec the args rule refuses passes it).
    func testTheTimeRulesAloneGiveTheFullVerdictForASpecThatPassedSubmit() throws {
        let set = try BrokerConfig.parse(BrokerConfigTests.issueExample).policySet
        let specs = [Self.satellite(), Self.satellite("satellite-weekend"), Self.satellite(erases: [Self.erase("nyc1")]),
                     Self.workflow("rotate-logs", [[Self.job("sleep")]])]
        for spec in specs {
            for at in [Self.satNight, Self.monNoon] {
                let covering = set.covering(spec.name)
                guard set.check(spec, at: at, phase: .submit) == .allowed else { continue }
                XCTAssertEqual(set.check(spec, at: at, phase: .exec, covering: covering, timeRulesOnly: true),
                               set.check(spec, at: at, phase: .exec), "\(spec.name) at \(at)")
            }
        }
        XCTAssertNotEqual(set.check(Self.satellite(), at: Self.monNoon, phase: .exec), .allowed, "the window does refuse")
        let refused = Self.satellite(erases: [Self.erase("SFO2")])
        XCTAssertNotEqual(set.check(refused, at: Self.satNight, phase: .exec), .allowed)
        XCTAssertEqual(set.check(refused, at: Self.satNight, phase: .exec, covering: set.covering(refused.name), timeRulesOnly: true), .allowed)
    }
}
