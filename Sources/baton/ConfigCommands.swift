import ArgumentParser
import BatonConfig
import BatonWire
import Foundation

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Broker config files (YAML).", subcommands: [ConfigCheckCommand.self])
}

struct ConfigCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a broker config file: exit 0 when it is good, 1 naming the line and field when not.")

    @Argument(help: "Config file (YAML).") var file: String
    @Flag(help: "Print a JSON object instead of text.") var json = false

    func run() throws {
        let config: BrokerConfig
        do {
            config = try BrokerConfig.load(file: file)
        } catch {
            if json { print(JSONWriter.string(["ok": false, "error": error.json])) } else { printError("error: \(error)") }
            throw ExitCode.failure
        }
        let policies = config.policies.count, limits = config.limits.count
        if json {
            print(JSONWriter.string(["ok": true, "policies": .int(Int64(policies)), "limits": .int(Int64(limits))]))
        } else {
            print("ok: \(policies) policies, \(limits) limits")
        }
    }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Policies of a broker config, checked offline.", subcommands: [PolicyCheckCommand.self])
}

struct PolicyCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Show which policies and rules a workflow passes or fails, and why, without contacting a broker.",
        discussion: "Exit 0 when the workflow is allowed, 1 when it is denied, 2 when a file is bad.")

    @Option(help: "Broker config file (YAML).") var config: String
    @Argument(help: "Workflow file (JSON), as `baton submit` takes it.") var file: String
    @Option(help: "Check as SUBMIT or EXEC sees it: submit, exec (window rules are checked at exec only).")
    var phase = "exec"
    @Option(help: "Check at this UTC time (e.g. 2026-12-05T03:00:00Z) instead of now.") var at: String?
    @Flag(help: "Print a JSON object instead of text.") var json = false

    func validate() throws {
        guard PolicyPhase(rawValue: phase) != nil else { throw ValidationError("--phase must be submit or exec, got \"\(phase)\"") }
        if let at, Timestamp.parse(at) == nil {
            throw ValidationError("--at must be a UTC time like 2026-12-05T03:00:00Z, got \"\(at)\"")
        }
    }

    func run() throws {
        let set: PolicySet
        let spec: WorkflowSpec
        do {
            set = try BrokerConfig.load(file: config).policySet
        } catch {
            fail(error.json, "error: \(error)")
        }
        do {
            spec = try loadWorkflow(file)
        } catch {
            fail(["message": .string("\(error)")], "error: \(error)")
        }
        let nowMs = at.flatMap(Timestamp.parse) ?? Int64(Date().timeIntervalSince1970 * 1000)
        let report = set.report(spec, at: nowMs, phase: PolicyPhase(rawValue: phase) ?? .exec)
        if json {
            print(JSONWriter.string(report.json(atMs: nowMs, defaultDecision: set.defaultDecision)))
        } else {
            printText(report, nowMs: nowMs, defaultDecision: set.defaultDecision)
        }
        if case .denied = report.verdict { throw ExitCode.failure }
    }

    /// A bad config or workflow file: exit 2, which tells it apart from a denial.
    private func fail(_ error: JSONValue, _ text: String) -> Never {
        if json { print(JSONWriter.string(["ok": false, "error": error])) } else { printError(text) }
        Self.exit(withError: ExitCode(2))
    }

    private func printText(_ report: PolicyReport, nowMs: Int64, defaultDecision: DefaultDecision) {
        print("workflow \"\(report.workflow)\" at \(report.phase.rawValue), \(Timestamp.format(ms: nowMs))")
        if report.policies.isEmpty {
            print("no policy covers it: default \(defaultDecision.rawValue)")
        }
        for policy in report.policies {
            print("policy \"\(policy.name)\"")
            if policy.rules.isEmpty { print("  (no rules)") }
            for rule in policy.rules {
                let result = switch rule.result {
                case .passed: "pass"
                case .failed(let why): "FAIL: \(why)"
                case .skipped(let why): "skipped: \(why)"
                }
                print("  rules[\(rule.index)] \(rule.kind.rawValue): \(result)")
            }
        }
        switch report.verdict {
        case .allowed: print("verdict: allowed")
        case .denied(let denial): print("verdict: denied: \(denial)")
        }
    }
}

extension ConfigError {
    var json: JSONValue {
        var o: [String: JSONValue] = ["path": .string(path), "message": .string(message), "text": .string(description)]
        if let line { o["line"] = .int(Int64(line)) }
        if let file { o["file"] = .string(file) }
        return .object(o)
    }
}

extension PolicyReport {
    /// `{"workflow", "phase", "at", "verdict": "allowed"|"denied", "denial"?, "default"?, "policies": [...]}`:
    /// `default` is present when no policy covers the name.
    func json(atMs: Int64, defaultDecision: DefaultDecision) -> JSONValue {
        var o: [String: JSONValue] = [
            "workflow": .string(workflow), "phase": .string(phase.rawValue), "at": .string(Timestamp.format(ms: atMs)),
            "policies": .array(policies.map { p in
                ["name": .string(p.name), "rules": .array(p.rules.map(\.json))]
            }),
        ]
        if policies.isEmpty { o["default"] = .string(defaultDecision.rawValue) }
        switch verdict {
        case .allowed:
            o["verdict"] = "allowed"
        case .denied(let d):
            o["verdict"] = "denied"
            var denial: [String: JSONValue] = ["message": .string(d.description), "detail": .string(d.detail)]
            if let p = d.policy { denial["policy"] = .string(p) }
            if let r = d.rule { denial["rule"] = .string(r.rawValue) }
            o["denial"] = .object(denial)
        }
        return .object(o)
    }
}

extension RuleOutcome {
    var json: JSONValue {
        var o: [String: JSONValue] = ["index": .int(Int64(index)), "kind": .string(kind.rawValue)]
        switch result {
        case .passed: o["result"] = "pass"
        case .failed(let why): o["result"] = "fail"; o["message"] = .string(why)
        case .skipped(let why): o["result"] = "skipped"; o["message"] = .string(why)
        }
        return .object(o)
    }
}
