import BatonConfig
import XCTest

final class BrokerConfigTests: XCTestCase {
    /// The issue's example, byte for byte.
    static let issueExample = """
        default: deny                      # workflow names that no policy covers
        limits:
          job_types:
            disk.erase: {rate: 10/min, burst: 2}
          workflows:
            satellite-disk-erase: {max_running: 1, rate: 1/30min}
          clients: {max_in_flight: 1000}
        policies:
          - name: satellite-erase
            workflows: ["satellite-disk-erase", "satellite-*"]
            rules:
              - allowed_job_types: [validate.decom, disk.erase, sleep]
              - same_args: {disk.erase: [site]}
              - first_block: {job_type: validate.decom}
              - limits: {max_blocks: 50, max_jobs: 500, max_concurrency: 10}
              - args: {disk.erase: {site: {required: true, pattern: "^[a-z]{3}[0-9]$"}}}
              - window: {days: [sat, sun], from: "02:00", to: "05:00"}   # UTC
        emergency_stop_file: ./es.yaml     # optional; workflow name (or "*") -> go | stop
        """

    func testTheIssueExampleParsesIntoItsValues() throws {
        let c = try BrokerConfig.parse(Self.issueExample)
        XCTAssertEqual(c.defaultDecision, .deny)
        XCTAssertEqual(c.limits.jobTypes, ["disk.erase": JobTypeLimit(rate: Rate(tokens: 10, periodMs: 60_000), burst: 2)])
        XCTAssertEqual(c.limits.workflows, ["satellite-disk-erase": WorkflowLimit(maxRunning: 1, rate: Rate(tokens: 1, periodMs: 1_800_000))])
        XCTAssertEqual(c.limits.clients, ClientLimit(maxInFlight: 1000))
        XCTAssertEqual(c.limits.count, 3)
        XCTAssertEqual(c.emergencyStopFile, "./es.yaml")
        XCTAssertEqual(c.policies.count, 1)
        let p = try XCTUnwrap(c.policies.first)
        XCTAssertEqual(p.name, "satellite-erase")
        XCTAssertEqual(p.workflows, [NamePattern("satellite-disk-erase"), NamePattern("satellite-*")])
        XCTAssertEqual(p.rules, [
            .allowedJobTypes(["validate.decom", "disk.erase", "sleep"]),
            .sameArgs(["disk.erase": ["site"]]),
            .firstBlock(jobType: "validate.decom"),
            .limits(ShapeLimits(maxBlocks: 50, maxJobs: 500, maxConcurrency: 10)),
            .args(["disk.erase": ["site": ArgConstraint(required: true, pattern: ArgPattern("^[a-z]{3}[0-9]$"))]]),
            .window(TimeWindow(days: [.sat, .sun], fromMinute: 120, toMinute: 300)),
        ])
        XCTAssertEqual(c.settings, BrokerSettings())
    }

    func testEveryBrokerFlagHasAKey() throws {
        let c = try BrokerConfig.parse("""
            clients: tcp://127.0.0.1:7001
            workers: tcp://127.0.0.1:7002
            db: var/x.db
            heartbeat_ms: 250
            ttl_seconds: 60
            max_message_bytes: 4096
            curve_secret_key_file: ./broker.secret
            log_level: debug
            log_format: json
            retention: 7d
            """)
        var s = BrokerSettings()
        s.clients = "tcp://127.0.0.1:7001"
        s.workers = "tcp://127.0.0.1:7002"
        s.db = "var/x.db"
        s.heartbeatMs = 250
        s.ttlSeconds = 60
        s.maxMessageBytes = 4096
        s.curveSecretKeyFile = "./broker.secret"
        s.logLevel = "debug"
        s.logFormat = "json"
        s.retentionMs = 7 * 86_400_000
        XCTAssertEqual(c.settings, s)
        XCTAssertThrowsError(try BrokerConfig.parse("retention: 30")) {
            XCTAssertTrue("\($0)".contains("retention"), "\($0)")
        }
    }

    /// No file, an empty file, or no `default`: everything allowed (development mode).
    func testWithoutDefaultEverythingUncoveredIsAllowed() throws {
        XCTAssertEqual(try BrokerConfig.parse("").policySet, .allowAll)
        XCTAssertEqual(try BrokerConfig.parse("# only a comment\n").policySet, .allowAll)
        let c = try BrokerConfig.parse("limits: {clients: {max_in_flight: 5}}")
        XCTAssertNil(c.defaultDecision)
        XCTAssertEqual(c.policySet.defaultDecision, .allow)
    }

    func testTheRepositoryExampleConfigIsValid() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try BrokerConfig.load(file: root.appendingPathComponent("examples/baton.yaml").path)
        XCTAssertTrue(c.policies.contains { $0.name == "satellite-erase" })
        XCTAssertEqual(c.defaultDecision, .deny)
    }

    func testAMissingFileNamesItself() {
        XCTAssertThrowsError(try BrokerConfig.load(file: "/nonexistent/baton.yaml")) { e in
            XCTAssertEqual("\(e)", "/nonexistent/baton.yaml: cannot read the file")
        }
    }

    /// Every error names its line and field path. Lines are 1-based in the YAML below.
    func testErrorsNameTheLineAndTheField() {
        let cases: [(yaml: String, line: Int, path: String, message: String)] = [
            // Unknown keys, at every level.
            ("default: deny\nlimts: {}", 2, "limts", "unknown key (known keys: default, limits, policies, emergency_stop_file, clients, workers, db, heartbeat_ms, ttl_seconds, max_message_bytes, max_submitted, curve_secret, curve_secret_key_file, clients_allow, workers_allow, admins_allow, insecure, log_level, log_format, retention)"),
            ("limits:\n  job_types:\n    disk.erase: {rate: 1/s, brust: 2}", 3, "limits.job_types.disk.erase.brust", "unknown key (known keys: rate, burst)"),
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - allowed_jobs: [a]", 5, "policies[0].rules[0].allowed_jobs",
             "unknown key (known keys: allowed_job_types, same_args, first_block, limits, args, window, owners)"),
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - args: {t: {a: {requird: true}}}", 5, "policies[0].rules[0].args.t.a.requird",
             "unknown key (known keys: required, enum, pattern)"),
            // Rates.
            ("limits:\n  job_types:\n    disk.erase: {rate: 10/minute}", 3, "limits.job_types.disk.erase.rate",
             "\"10/minute\" is not a rate: expected N/unit with unit s, sec, min, h or hour, e.g. 10/min or 1/30min"),
            ("limits:\n  workflows:\n    w:\n      rate: 0/min", 4, "limits.workflows.w.rate",
             "\"0/min\" is not a rate: expected N/unit with unit s, sec, min, h or hour, e.g. 10/min or 1/30min"),
            // Regular expressions.
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - args: {disk.erase: {site: {pattern: \"[a-\"}}}", 5,
             "policies[0].rules[0].args.disk.erase.site.pattern", "not a valid regular expression"),
            // Days and times.
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - window: {days: [sat, sunday], from: \"02:00\", to: \"05:00\"}", 5,
             "policies[0].rules[0].window.days[1]", "\"sunday\" is not a day (mon, tue, wed, thu, fri, sat, sun)"),
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - window:\n          from: \"2:00\"\n          to: \"05:00\"", 6,
             "policies[0].rules[0].window.from", "\"2:00\" is not a time: expected HH:MM from 00:00 to 23:59 (UTC)"),
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - window:\n          from: \"02:00\"\n          to: \"24:00\"", 7,
             "policies[0].rules[0].window.to", "\"24:00\" is not a time: expected HH:MM from 00:00 to 23:59 (UTC)"),
            // Wrong types.
            ("heartbeat_ms: soon", 1, "heartbeat_ms", "must be an integer"),
            ("policies: {a: 1}", 1, "policies", "must be a list"),
            ("limits: [1]", 1, "limits", "must be a mapping (key: value)"),
            ("policies:\n  - name: p\n    workflows: x", 3, "policies[0].workflows", "must be a list"),
            ("default: maybe", 1, "default", "\"maybe\" is neither allow nor deny"),
            // Missing and out of range.
            ("policies:\n  - name: p\n    rules: []", 2, "policies[0].workflows", "required"),
            ("heartbeat_ms: 5", 1, "heartbeat_ms", "must be at least 10, got 5"),
            ("log_level: loud", 1, "log_level", "\"loud\" is not a level (trace, debug, info, notice, warning, error, critical)"),
            ("log_format: xml", 1, "log_format", "\"xml\" is not a log format (text, json)"),
            ("limits:\n  workflows:\n    w: {}", 3, "limits.workflows.w", "set max_running, rate or both"),
            ("policies:\n  - name: p\n    workflows: [x]\n  - name: p\n    workflows: [y]", 4, "policies[1].name", "a second policy named \"p\""),
            ("policies:\n  - name: p\n    workflows: [x]\n    rules:\n      - {same_args: {a: [b]}, limits: {max_jobs: 1}}", 5, "policies[0].rules[0]",
             "a rule is a mapping with exactly one key, its kind (allowed_job_types, same_args, first_block, limits, args, window, owners)"),
            // YAML syntax.
            ("a: 1\nb: [1, 2\n", 3, "", "not valid YAML: while parsing a flow sequence, did not find expected ',' or ']'"),
        ]
        for c in cases {
            XCTAssertThrowsError(try BrokerConfig.parse(c.yaml, file: "t.yaml"), c.path) { error in
                guard let e = error as? ConfigError else { return XCTFail("\(c.path): \(error)") }
                XCTAssertEqual(e, ConfigError(file: "t.yaml", line: c.line, path: c.path, message: c.message), c.yaml)
            }
        }
    }

    func testTheErrorTextStartsWithFileLineAndField() {
        let e = ConfigError(file: "baton.yaml", line: 14, path: "policies[0].rules[4].args.disk.erase.site.pattern", message: "not a valid regular expression")
        XCTAssertEqual(e.description, "baton.yaml:14: policies[0].rules[4].args.disk.erase.site.pattern: not a valid regular expression")
    }
}
