import BatonWire

/// The rule kinds, named as the config writes them.
public enum RuleKind: String, CaseIterable, Sendable {
    case allowedJobTypes = "allowed_job_types"
    case sameArgs = "same_args"
    case firstBlock = "first_block"
    case limits
    case args
    case window
    case owners
}

/// One rule of a policy. Rules are pure: `violation` looks only at the spec and the time.
public enum PolicyRule: Equatable, Sendable {
    /// Every job's type is in the list.
    case allowedJobTypes([String])
    /// Per job type, the named args: every job of that type has the same value (a job
    /// without the arg differs from one with it). The lesson's "all erases in one site".
    case sameArgs(SortedTable<[String]>)
    /// Every job of the first block has this type, so it runs before any other job.
    case firstBlock(jobType: String)
    /// Bounds on the spec's shape.
    case limits(ShapeLimits)
    /// Per job type, per arg: required, allowed values.
    case args(SortedTable<SortedTable<ArgConstraint>>)
    /// Start only inside a UTC window. Checked at EXEC only: SUBMIT stores a workflow and
    /// runs nothing, so a workflow may be submitted any time and started in the window.
    case window(TimeWindow)
    /// Only these key names (owners, spec §3.6) may submit and run the workflow. In
    /// plain mode there is no key name, so the rule refuses: it is written for brokers
    /// with keys, and a broker that lost them must not run what it guarded.
    case owners([String])

    public var kind: RuleKind {
        switch self {
        case .allowedJobTypes: .allowedJobTypes
        case .sameArgs: .sameArgs
        case .firstBlock: .firstBlock
        case .limits: .limits
        case .args: .args
        case .window: .window
        case .owners: .owners
        }
    }

    /// Whether the rule is checked in `phase`: every rule at EXEC, all but `window` at SUBMIT.
    public func isChecked(in phase: PolicyPhase) -> Bool {
        phase == .exec || kind != .window
    }

    /// Whether the verdict can change with the time alone: every other rule reads only
    /// the spec and the owner (`PolicySet.check`'s `timeRulesOnly` relies on it).
    public var dependsOnTime: Bool { kind == .window }

    /// Why `spec` breaks the rule at `nowMs` (Unix ms), or nil when it passes. The
    /// message names the offending block/job index, job type and field.
    public func violation(_ spec: WorkflowSpec, owner: String? = nil, at nowMs: Int64) -> String? {
        switch self {
        case .owners(let names): Self.ownersViolation(owner, names)
        case .allowedJobTypes(let types): allowedTypesViolation(spec, types)
        case .sameArgs(let byType): sameArgsViolation(spec, byType)
        case .firstBlock(let type): firstBlockViolation(spec, type)
        case .limits(let limits): limits.violation(spec)
        case .args(let byType): argsViolation(spec, byType)
        case .window(let w):
            w.contains(nowMs) ? nil : "now is \(Self.clock(nowMs)), outside the window \(w.description)"
        }
    }

    private static func ownersViolation(_ owner: String?, _ names: [String]) -> String? {
        guard let owner else { return "only keys \(names.joined(separator: ", ")) may run it, and the caller has no key (plain mode)" }
        return names.contains(owner) ? nil : "key \"\(owner)\" may not run it (allowed: \(names.joined(separator: ", ")))"
    }

    private func allowedTypesViolation(_ spec: WorkflowSpec, _ types: [String]) -> String? {
        spec.firstViolation { job in
            types.contains(job.type) ? nil : "type \"\(job.type)\" is not allowed (allowed: \(types.joined(separator: ", ")))"
        }
    }

    private func sameArgsViolation(_ spec: WorkflowSpec, _ byType: SortedTable<[String]>) -> String? {
        for (type, args) in byType.entries {
            for arg in args {
                var first: JSONValue??
                let why = spec.firstViolation { job in
                    guard job.type == type else { return nil }
                    let value = job.arg(arg)
                    guard let expected = first else {
                        first = .some(value)
                        return nil
                    }
                    return value == expected ? nil : "args.\(arg) is \(Self.show(value)), other \(type) jobs have \(Self.show(expected))"
                }
                if let why { return why }
            }
        }
        return nil
    }

    private func firstBlockViolation(_ spec: WorkflowSpec, _ type: String) -> String? {
        guard let block = spec.blocks.first else { return "the workflow has no block" }
        for (i, job) in block.jobs.enumerated() where job.type != type {
            return "blocks[0].jobs[\(i)] (\(job.type)) type is not \(type): the first block must hold only \(type) jobs"
        }
        return nil
    }

    private func argsViolation(_ spec: WorkflowSpec, _ byType: SortedTable<SortedTable<ArgConstraint>>) -> String? {
        spec.firstViolation { job in
            guard let constraints = byType[job.type] else { return nil }
            for (arg, constraint) in constraints.entries {
                if let why = constraint.violation(job.arg(arg)) { return "args.\(arg) \(why)" }
            }
            return nil
        }
    }

    private static func show(_ value: JSONValue?) -> String { value.map(\.shown) ?? "absent" }

    /// `Sat 03:10 UTC`: the time as the window denial states it.
    static func clock(_ ms: Int64) -> String {
        let (day, minute) = TimeWindow.split(ms)
        return "\(day.rawValue.prefix(1).uppercased())\(day.rawValue.dropFirst()) \(TimeWindow.hhmm(minute)) UTC"
    }
}

/// The `limits` rule: bounds on a spec's shape (not the broker's rate limits).
public struct ShapeLimits: Equatable, Sendable {
    public var maxBlocks: Int?
    public var maxJobs: Int?
    /// Largest `concurrency` of any block.
    public var maxConcurrency: Int?

    public init(maxBlocks: Int? = nil, maxJobs: Int? = nil, maxConcurrency: Int? = nil) {
        self.maxBlocks = maxBlocks
        self.maxJobs = maxJobs
        self.maxConcurrency = maxConcurrency
    }

    func violation(_ spec: WorkflowSpec) -> String? {
        if let maxBlocks, spec.blocks.count > maxBlocks {
            return "blocks: \(spec.blocks.count) blocks, at most \(maxBlocks) (max_blocks)"
        }
        if let maxJobs, spec.jobCount > maxJobs {
            return "blocks: \(spec.jobCount) jobs in all, at most \(maxJobs) (max_jobs)"
        }
        if let maxConcurrency {
            for (i, b) in spec.blocks.enumerated() where b.concurrency > maxConcurrency {
                return "blocks[\(i)].concurrency is \(b.concurrency), at most \(maxConcurrency) (max_concurrency)"
            }
        }
        return nil
    }
}

extension WorkflowSpec {
    /// The first job, in spec order, for which `check` says why it breaks a rule, as
    /// `blocks[i].jobs[j] (type) why`. Paths are built only for the offender: checks run
    /// on every SUBMIT and EXEC.
    func firstViolation(_ check: (JobSpec) -> String?) -> String? {
        for (i, block) in blocks.enumerated() {
            for (j, job) in block.jobs.enumerated() {
                if let why = check(job) { return "blocks[\(i)].jobs[\(j)] (\(job.type)) \(why)" }
            }
        }
        return nil
    }
}

// MARK: - Decoding

extension PolicyRule: Decodable {
    /// A rule is a mapping with exactly one key, the kind: `- same_args: {disk.erase: [site]}`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: RuleKind.allCases.map(\.rawValue))
        guard c.allKeys.count == 1, let key = c.allKeys.first, let kind = RuleKind(rawValue: key.stringValue) else {
            throw invalid(decoder.codingPath, "a rule is a mapping with exactly one key, its kind (\(RuleKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        switch kind {
        case .allowedJobTypes:
            let types: [String] = try c.required(kind.rawValue)
            guard !types.isEmpty else { throw invalid(c.path(kind.rawValue), "must list at least one job type") }
            self = .allowedJobTypes(types)
        case .sameArgs:
            let byType: [String: [String]] = try c.required(kind.rawValue)
            for (type, args) in byType where args.isEmpty {
                throw invalid(c.path(kind.rawValue) + [ConfigKey(type)], "must list at least one arg")
            }
            self = .sameArgs(SortedTable(byType))
        case .firstBlock:
            self = .firstBlock(jobType: try c.required(kind.rawValue, as: FirstBlock.self).jobType)
        case .owners:
            let names: [String] = try c.required(kind.rawValue)
            guard !names.isEmpty else { throw invalid(c.path(kind.rawValue), "must list at least one key name") }
            self = .owners(names)
        case .limits:
            self = .limits(try c.required(kind.rawValue))
        case .args:
            self = .args(try c.required(kind.rawValue))
        case .window:
            self = .window(try c.required(kind.rawValue))
        }
    }
}

private struct FirstBlock: Decodable {
    let jobType: String

    init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["job_type"])
        jobType = try c.required("job_type")
    }
}

extension ShapeLimits: Decodable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.strictContainer(known: ["max_blocks", "max_jobs", "max_concurrency"])
        self.init(maxBlocks: try c.positive("max_blocks"), maxJobs: try c.positive("max_jobs"),
                  maxConcurrency: try c.positive("max_concurrency"))
        guard maxBlocks != nil || maxJobs != nil || maxConcurrency != nil else {
            throw invalid(decoder.codingPath, "set at least one of max_blocks, max_jobs, max_concurrency")
        }
    }
}
