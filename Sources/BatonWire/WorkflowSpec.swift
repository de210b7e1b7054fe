/// How often and how patiently a job is retried. Backoff doubles after each attempt:
/// the wait before attempt n+1 is `backoffMs * 2^(n-1)`.
public struct RetryPolicy: Equatable, Sendable {
    public var maxAttempts: Int
    public var backoffMs: Int64

    public static let standard = RetryPolicy(maxAttempts: 3, backoffMs: 1000)

    public init(maxAttempts: Int, backoffMs: Int64) {
        self.maxAttempts = maxAttempts
        self.backoffMs = backoffMs
    }

    /// The wait after attempt `attempt` (1-based) failed, capped at one hour.
    public func delay(afterAttempt attempt: Int) -> Int64 {
        let shift = min(max(attempt - 1, 0), 30)
        let (d, overflow) = backoffMs.multipliedReportingOverflow(by: Int64(1) << shift)
        return overflow ? 3_600_000 : min(d, 3_600_000)
    }
}

public struct JobSpec: Equatable, Sendable {
    public var type: String
    public var name: String?
    /// The job's args, as their canonical text (`JSONText`; always an object).
    ///
    /// Why text: the broker never looks inside args but to check a policy's `args` and
    /// `same_args` rules (`arg(_:)` reads one member from the text). It stores them with
    /// the spec and sends them in every JOB. As a tree each job's args were a dictionary
    /// built and hashed at SUBMIT, written back to JSON for the store and for each JOB,
    /// and freed: in `scripts/profile` (args `{"bench":true}`), ~2,300 instructions per
    /// fan-out job and ~1,000-1,500 per SUBMIT (the event loop's share ~1,000). Args
    /// already in the writer's form (a client that writes compact JSON with sorted keys)
    /// are checked and kept as they came; any other are parsed and written anew, so what
    /// is stored and sent is byte for byte what it was.
    public internal(set) var argsText: JSONText
    /// 0 means no timeout.
    public var timeoutMs: Int64
    /// 0 means none. Otherwise an attempt with no PROGRESS (or RESULT) from its worker for
    /// this long is lost and retried: a long job (hours) needs no huge `timeout_ms`.
    public var heartbeatTimeoutMs: Int64
    public var retry: RetryPolicy

    public init(type: String, name: String? = nil, args: [String: JSONValue] = [:], timeoutMs: Int64 = 0, retry: RetryPolicy = .standard,
                heartbeatTimeoutMs: Int64 = 0) {
        self.type = type
        self.name = name
        self.argsText = Self.text(of: args)
        self.timeoutMs = timeoutMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
        self.retry = retry
    }

    /// The args as a tree (parsed from `argsText` at each read; setting writes the text).
    public var args: [String: JSONValue] {
        get { argsText.value.objectValue ?? [:] }
        set { argsText = Self.text(of: newValue) }
    }

    private static func text(of args: [String: JSONValue]) -> JSONText {
        args.isEmpty ? .emptyObject : JSONText(.object(args))
    }

    /// Arg `name`, or nil when the args have no such member: read from the text, without
    /// building the whole object (a policy's `args` and `same_args` rules).
    public func arg(_ name: String) -> JSONValue? { argsText.member(name) }

    /// Equal fields, and args equal as values: the same text, or, when the texts differ,
    /// the same parsed object. Idempotency compares parsed values (spec §3.2.1): strings
    /// that are canonically equivalent Unicode, or `-0.0` and `0.0`, are the same spec
    /// though their texts differ. Byte equality alone would answer `conflict` to a
    /// duplicate SUBMIT that the spec calls the same.
    public static func == (a: JobSpec, b: JobSpec) -> Bool {
        a.type == b.type && a.name == b.name && a.timeoutMs == b.timeoutMs && a.heartbeatTimeoutMs == b.heartbeatTimeoutMs
            && a.retry == b.retry && (a.argsText == b.argsText || a.args == b.args)
    }
}

public struct BlockSpec: Equatable, Sendable {
    public var description: String?
    public var concurrency: Int
    public var jobs: [JobSpec]

    public init(description: String? = nil, concurrency: Int, jobs: [JobSpec]) {
        self.description = description
        self.concurrency = concurrency
        self.jobs = jobs
    }
}

/// A validated workflow: blocks run in order, each block's jobs run concurrently up to
/// its `concurrency`.
public struct WorkflowSpec: Equatable, Sendable {
    public var name: String
    public var description: String?
    public var blocks: [BlockSpec]

    public init(name: String, description: String? = nil, blocks: [BlockSpec]) {
        self.name = name
        self.description = description
        self.blocks = blocks
    }

    /// Limits that keep one request from exhausting the broker.
    public enum Limits {
        public static let maxNameBytes = 200
        public static let maxTypeBytes = 100
        public static let maxBlocks = 10_000
        public static let maxJobs = 100_000
        public static let maxAttempts = 100
        public static let maxBackoffMs: Int64 = 86_400_000
        public static let maxTimeoutMs: Int64 = 7 * 86_400_000
        public static let maxConcurrency = 100_000
    }

    public var jobCount: Int { blocks.reduce(0) { $0 + $1.jobs.count } }
}

// MARK: - Validation from JSON

extension WorkflowSpec {
    /// Validates a `workflow` value from a SUBMIT body. Errors name the path of the bad
    /// field, e.g. `workflow.blocks[1].jobs[0].type: required`.
    public static func parse(_ value: JSONValue, path: String = "workflow") throws(WireError) -> WorkflowSpec {
        let o = try object(value, path)
        try rejectUnknownKeys(o, path, known: ["name", "description", "blocks"], of: "a workflow")
        let name = try requiredString(o, "name", path, maxBytes: Limits.maxNameBytes)
        let description = try optionalString(o, "description", path)
        guard let blocksValue = o["blocks"] else { throw bad("\(path).blocks", "required") }
        guard case .array(let blocksJSON) = blocksValue else {
            throw bad("\(path).blocks", "must be an array, got \(blocksValue.typeName)")
        }
        guard !blocksJSON.isEmpty else { throw bad("\(path).blocks", "must hold at least one block") }
        guard blocksJSON.count <= Limits.maxBlocks else {
            throw bad("\(path).blocks", "at most \(Limits.maxBlocks) blocks")
        }
        var blocks: [BlockSpec] = []
        var total = 0
        for (i, b) in blocksJSON.enumerated() {
            let block = try BlockSpec.parse(b, path: specPath(path, ".blocks[", i))
            total += block.jobs.count
            guard total <= Limits.maxJobs else { throw bad("\(path).blocks", "at most \(Limits.maxJobs) jobs in all") }
            blocks.append(block)
        }
        return WorkflowSpec(name: name, description: description, blocks: blocks)
    }

    /// A spec from its JSON text (the store's canonical column): read straight into the
    /// spec when it is plainly valid (JSONParser+Spec.swift), through the tree otherwise,
    /// which words the error. Throws `JSONParser.Failure` or `WireError`.
    public static func parse(jsonText: String) throws -> WorkflowSpec {
        var text = jsonText
        if let spec = text.withUTF8({ JSONParser.plainSpec(UnsafeRawBufferPointer($0)) }) { return spec }
        return try parse(JSONParser.parse(text))
    }

    /// The canonical JSON of the spec, defaults filled in. Stored in SQLite; parsing it
    /// back gives an equal spec.
    public var json: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name), "blocks": .array(blocks.map(\.json))]
        if let description { o["description"] = .string(description) }
        return .object(o)
    }
}

extension BlockSpec {
    static func parse(_ value: JSONValue, path: String) throws(WireError) -> BlockSpec {
        let o = try object(value, path)
        try rejectUnknownKeys(o, path, known: ["description", "concurrency", "jobs"], of: "a block")
        let description = try optionalString(o, "description", path)
        let concurrency = try optionalInt(o, "concurrency", path, range: 1...Int64(WorkflowSpec.Limits.maxConcurrency)) ?? 1
        guard let jobsValue = o["jobs"] else { throw bad("\(path).jobs", "required") }
        guard case .array(let jobsJSON) = jobsValue else {
            throw bad("\(path).jobs", "must be an array, got \(jobsValue.typeName)")
        }
        guard !jobsJSON.isEmpty else { throw bad("\(path).jobs", "must hold at least one job") }
        guard jobsJSON.count <= WorkflowSpec.Limits.maxJobs else {
            throw bad("\(path).jobs", "at most \(WorkflowSpec.Limits.maxJobs) jobs")
        }
        var jobs: [JobSpec] = []
        jobs.reserveCapacity(jobsJSON.count)
        for (i, j) in jobsJSON.enumerated() {
            jobs.append(try JobSpec.parse(j, path: specPath(path, ".jobs[", i)))
        }
        return BlockSpec(description: description, concurrency: Int(concurrency), jobs: jobs)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["concurrency": .int(Int64(concurrency)), "jobs": .array(jobs.map(\.json))]
        if let description { o["description"] = .string(description) }
        return .object(o)
    }
}

extension JobSpec {
    static func parse(_ value: JSONValue, path: String) throws(WireError) -> JobSpec {
        let o = try object(value, path)
        try rejectUnknownKeys(o, path, known: ["type", "name", "args", "timeout_ms", "heartbeat_timeout_ms", "retry"], of: "a job")
        let type = try requiredString(o, "type", path, maxBytes: WorkflowSpec.Limits.maxTypeBytes)
        guard type.utf8.allSatisfy(isTypeByte) else {
            throw bad("\(path).type", "may hold only letters, digits, '.', '_' and '-'")
        }
        let name = try optionalString(o, "name", path)
        var args: [String: JSONValue] = [:]
        if let a = o["args"], a != .null {
            guard case .object(let ao) = a else { throw bad("\(path).args", "must be an object, got \(a.typeName)") }
            args = ao
        }
        let timeout = try optionalInt(o, "timeout_ms", path, range: 0...WorkflowSpec.Limits.maxTimeoutMs) ?? 0
        let heartbeat = try optionalInt(o, "heartbeat_timeout_ms", path, range: 0...WorkflowSpec.Limits.maxTimeoutMs) ?? 0
        var retry = RetryPolicy.standard
        if let r = o["retry"], r != .null {
            let rp = "\(path).retry"
            let ro = try object(r, rp)
            try rejectUnknownKeys(ro, rp, known: ["max_attempts", "backoff_ms"], of: "retry")
            if let m = try optionalInt(ro, "max_attempts", rp, range: 1...Int64(WorkflowSpec.Limits.maxAttempts)) {
                retry.maxAttempts = Int(m)
            }
            if let b = try optionalInt(ro, "backoff_ms", rp, range: 0...WorkflowSpec.Limits.maxBackoffMs) {
                retry.backoffMs = b
            }
        }
        return JobSpec(type: type, name: name, args: args, timeoutMs: timeout, retry: retry, heartbeatTimeoutMs: heartbeat)
    }

    var json: JSONValue {
        var o: [String: JSONValue] = [
            "type": .string(type), "args": .object(args), "timeout_ms": .int(timeoutMs),
            "retry": ["max_attempts": .int(Int64(retry.maxAttempts)), "backoff_ms": .int(retry.backoffMs)],
        ]
        if let name { o["name"] = .string(name) }
        // Only when set: the canonical JSON of every spec stored before it stays the same
        // (idempotency compares it).
        if heartbeatTimeoutMs > 0 { o["heartbeat_timeout_ms"] = .int(heartbeatTimeoutMs) }
        return .object(o)
    }
}

/// `path` + `member` + `index` + `]`, e.g. `workflow.blocks[0].jobs[12]`, written
/// byte by byte: interpolating the index went through its generic `description`, about
/// 3,500 instructions per job of every spec parsed (a SUBMIT, a stored workflow read).
private func specPath(_ path: String, _ member: StaticString, _ index: Int) -> String {
    var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits
    return withUnsafeMutableBytes(of: &digits) { d in
        var v = UInt(bitPattern: index), n = 0
        repeat {
            d[23 - n] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            n += 1
        } while v > 0
        let made = path.utf8.withContiguousStorageIfAvailable { p in
            String(unsafeUninitializedCapacity: p.count + member.utf8CodeUnitCount + n + 1) { out in
                var i = 0
                for c in p { out[i] = c; i += 1 }
                for k in 0..<member.utf8CodeUnitCount { out[i] = member.utf8Start[k]; i += 1 }
                for k in (24 - n)..<24 { out[i] = d[k]; i += 1 }
                out[i] = UInt8(ascii: "]")
                return i + 1
            }
        }
        return made ?? "\(path)\(member)\(index)]"
    }
}

func isTypeByte(_ c: UInt8) -> Bool {
    (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
}

// MARK: - Strict spec objects

/// Spec objects (workflow, block, job, retry) are strict, unlike envelope bodies (spec
/// §4.2): a misspelled key such as `timeout` for `timeout_ms` would otherwise be dropped
/// in silence and the job would run with no timeout at all. The first unknown key in
/// sorted order is named, with the closest known key when one is near.
func rejectUnknownKeys(_ o: [String: JSONValue], _ path: String, known: [String], of what: String) throws(WireError) {
    guard o.count > 0 else { return }
    var unknown: String?
    for key in o.keys where !known.contains(key) {
        if unknown == nil || key < unknown! { unknown = key }
    }
    guard let key = unknown else { return }
    let hint = closest(to: key, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
    throw bad("\(path).\(key)", "unknown key\(hint); \(what) takes \(known.joined(separator: ", "))")
}

/// The known key a misspelling most likely meant: one that starts with it or it starts
/// with (`timeout` / `timeout_ms`), else one within two edits. Nil when none is near.
private func closest(to key: String, in known: [String]) -> String? {
    let lower = key.lowercased()
    if let k = known.first(where: { $0.hasPrefix(lower) || lower.hasPrefix($0) }) { return k }
    let a = Array(lower.utf8)
    guard a.count <= 64 else { return nil }
    return known.map { ($0, editDistance(a, Array($0.utf8))) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
}

private func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in stride(from: 1, through: b.count, by: 1) {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}

// MARK: - Field helpers shared by every body validator

func bad(_ path: String, _ message: String) -> WireError {
    WireError(.badRequest, "\(path): \(message)")
}

func object(_ value: JSONValue, _ path: String) throws(WireError) -> [String: JSONValue] {
    guard case .object(let o) = value else { throw bad(path, "must be an object, got \(value.typeName)") }
    return o
}

/// Body field readers: `path` is the enclosing object's path; the field's path is
/// `path.key` (or just `key` at the top of a body).
public enum Field {
    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    public static func requiredString(_ o: [String: JSONValue], _ key: String, _ path: String = "", maxBytes: Int = 1024) throws(WireError) -> String {
        guard let v = o[key], v != .null else { throw bad(join(path, key), "required") }
        guard case .string(let s) = v else { throw bad(join(path, key), "must be a string, got \(v.typeName)") }
        guard !s.isEmpty else { throw bad(join(path, key), "must not be empty") }
        guard s.utf8.count <= maxBytes else { throw bad(join(path, key), "longer than \(maxBytes) bytes") }
        return s
    }

    public static func optionalString(_ o: [String: JSONValue], _ key: String, _ path: String = "", maxBytes: Int = 4096) throws(WireError) -> String? {
        guard let v = o[key], v != .null else { return nil }
        guard case .string(let s) = v else { throw bad(join(path, key), "must be a string, got \(v.typeName)") }
        guard s.utf8.count <= maxBytes else { throw bad(join(path, key), "longer than \(maxBytes) bytes") }
        return s
    }

    public static func optionalInt(_ o: [String: JSONValue], _ key: String, _ path: String = "", range: ClosedRange<Int64>) throws(WireError) -> Int64? {
        guard let v = o[key], v != .null else { return nil }
        guard let i = v.intValue else { throw bad(join(path, key), "must be an integer, got \(v.typeName)") }
        guard range.contains(i) else {
            throw bad(join(path, key), "must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
        }
        return i
    }

    public static func optionalBool(_ o: [String: JSONValue], _ key: String, _ path: String = "") throws(WireError) -> Bool? {
        guard let v = o[key], v != .null else { return nil }
        guard case .bool(let b) = v else { throw bad(join(path, key), "must be a boolean, got \(v.typeName)") }
        return b
    }
}

func requiredString(_ o: [String: JSONValue], _ key: String, _ path: String, maxBytes: Int) throws(WireError) -> String {
    try Field.requiredString(o, key, path, maxBytes: maxBytes)
}

func optionalString(_ o: [String: JSONValue], _ key: String, _ path: String) throws(WireError) -> String? {
    try Field.optionalString(o, key, path)
}

func optionalInt(_ o: [String: JSONValue], _ key: String, _ path: String, range: ClosedRange<Int64>) throws(WireError) -> Int64? {
    try Field.optionalInt(o, key, path, range: range)
}
