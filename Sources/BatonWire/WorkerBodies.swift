/// Typed bodies of the worker protocol.

public struct ReadyBody: Equatable, Sendable {
    public var worker: String
    public var types: [String]
    public var capacity: Int

    public static let maxCapacity = 10_000
    /// Most job types one READY may declare. Peers control this list and it reaches the
    /// log: a READY with 200,000 types once wrote a 1.8 MB log line.
    public static let maxTypes = 256

    public init(worker: String, types: [String], capacity: Int) {
        self.worker = worker
        self.types = types
        self.capacity = capacity
    }

    public init(body o: [String: JSONValue]) throws(WireError) {
        worker = try Field.requiredString(o, "worker", maxBytes: 256)
        guard let t = o["types"], case .array(let items) = t, !items.isEmpty else {
            throw WireError(.badRequest, "types: required, a non-empty array of job type names")
        }
        guard items.count <= Self.maxTypes else {
            throw WireError(.badRequest, "types: at most \(Self.maxTypes) job types, got \(items.count)")
        }
        var types: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item, !s.isEmpty else { throw WireError(.badRequest, "types[\(i)]: must be a non-empty string") }
            guard s.utf8.count <= WorkflowSpec.Limits.maxTypeBytes else {
                throw WireError(.badRequest, "types[\(i)]: longer than \(WorkflowSpec.Limits.maxTypeBytes) bytes")
            }
            types.append(s)
        }
        self.types = types
        // 0: draining (spec §9): registered, but sent no new JOB.
        capacity = Int(try Field.optionalInt(o, "capacity", range: 0...Int64(Self.maxCapacity)) ?? 1)
    }

    public var body: [String: JSONValue] {
        ["worker": .string(worker), "types": .array(types.map { .string($0) }), "capacity": .int(Int64(capacity))]
    }
}

public struct JobBody: Equatable, Sendable {
    public var jobId: String
    public var workflowId: String
    public var attempt: Int
    public var type: String
    public var args: [String: JSONValue]
    public var timeoutMs: Int64
    /// 0: none. Otherwise the worker SHOULD send PROGRESS at least this often (a third
    /// of it is the reference worker's pace): a silent attempt is lost after it.
    public var heartbeatTimeoutMs: Int64

    public init(jobId: String, workflowId: String, attempt: Int, type: String, args: [String: JSONValue], timeoutMs: Int64,
                heartbeatTimeoutMs: Int64 = 0) {
        self.jobId = jobId
        self.workflowId = workflowId
        self.attempt = attempt
        self.type = type
        self.args = args
        self.timeoutMs = timeoutMs
        self.heartbeatTimeoutMs = heartbeatTimeoutMs
    }

    /// Strict, as a worker reads a JOB (spec §9.6): every field the broker sends must be
    /// there and well-typed; the error names the first that is not.
    public init(body o: [String: JSONValue]) throws(WireError) {
        jobId = try Field.requiredString(o, "job_id")
        guard let attempt = try Field.optionalInt(o, "attempt", range: 1...Int64(Int32.max)) else { throw bad("attempt", "required") }
        self.attempt = Int(attempt)
        workflowId = try Field.requiredString(o, "workflow_id")
        type = try Field.requiredString(o, "type")
        guard let args = o["args"] else { throw bad("args", "required") }
        guard let object = args.objectValue else { throw bad("args", "must be an object, got \(args.typeName)") }
        self.args = object
        timeoutMs = try Field.optionalInt(o, "timeout_ms", range: 0...Int64.max) ?? 0
        heartbeatTimeoutMs = try Field.optionalInt(o, "heartbeat_timeout_ms", range: 0...Int64.max) ?? 0
    }

    public var body: [String: JSONValue] {
        var o: [String: JSONValue] = ["job_id": .string(jobId), "workflow_id": .string(workflowId), "attempt": .int(Int64(attempt)),
                                      "type": .string(type), "args": .object(args), "timeout_ms": .int(timeoutMs)]
        if heartbeatTimeoutMs > 0 { o["heartbeat_timeout_ms"] = .int(heartbeatTimeoutMs) }
        return o
    }

    /// `body` written straight to bytes, keys in `JSONWriter`'s order: the broker sends a
    /// JOB per attempt, and the dictionary (seven keys hashed on insert, sorted again on
    /// writing) was about 6,000 instructions of it. `ReplyBytesTests` checks the
    /// bytes against `body`'s.
    public var bytes: [UInt8] {
        Self.bytes(args: JSONText(.object(args)), attempt: attempt, heartbeatTimeoutMs: heartbeatTimeoutMs, jobId: .string(jobId),
                   timeoutMs: timeoutMs, type: type, workflowId: workflowId)
    }

    /// The bytes of a JOB body with these members (`bytes` for a `JobBody`; the broker's
    /// dispatch gives the id as its parts, making no String of it).
    public static func bytes(args: JSONText, attempt: Int, heartbeatTimeoutMs: Int64, jobId: JobIdText,
                             timeoutMs: Int64, type: String, workflowId: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + args.bytes.count)
        out.append(literal: #"{"args":"#)
        out.append(contentsOf: args.bytes)
        out.append(literal: #","attempt":"#)
        JSONWriter.writeInt(Int64(attempt), into: &out)
        if heartbeatTimeoutMs > 0 {
            out.append(literal: #","heartbeat_timeout_ms":"#)
            JSONWriter.writeInt(heartbeatTimeoutMs, into: &out)
        }
        out.append(literal: #","job_id":"#)
        jobId.write(into: &out)
        out.append(literal: #","timeout_ms":"#)
        JSONWriter.writeInt(timeoutMs, into: &out)
        out.append(literal: #","type":"#)
        JSONWriter.writeString(type, into: &out)
        out.append(literal: #","workflow_id":"#)
        JSONWriter.writeString(workflowId, into: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// PROGRESS (worker → broker): a running attempt is alive, with optional details for
/// people (shown in STATUS and as `job.progress` events).
public struct ProgressBody: Equatable, Sendable {
    public var jobId: String
    public var attempt: Int
    public var details: JSONValue?

    /// Largest `details` kept (bytes of its JSON); larger details are replaced by a note
    /// saying so, the beat itself still counts.
    public static let maxDetailsBytes = 16 * 1024

    public init(jobId: String, attempt: Int, details: JSONValue? = nil) {
        self.jobId = jobId
        self.attempt = attempt
        self.details = details
    }

    public init(body o: [String: JSONValue]) throws(WireError) {
        jobId = try Field.requiredString(o, "job_id")
        guard let a = try Field.optionalInt(o, "attempt", range: 1...Int64(Int32.max)) else { throw bad("attempt", "required") }
        attempt = Int(a)
        let d = o["details"]
        details = d == .null ? nil : d
    }

    public var body: [String: JSONValue] {
        var o: [String: JSONValue] = ["job_id": .string(jobId), "attempt": .int(Int64(attempt))]
        if let details { o["details"] = details }
        return o
    }
}

public struct ResultBody: Equatable, Sendable {
    public var jobId: String
    public var attempt: Int
    public var ok: Bool
    /// The output as the broker keeps it: its canonical text (`JSONText`), which the
    /// broker stores and sends without reading it.
    public var outputText: JSONText?
    public var error: String?
    public var retryable: Bool

    /// The output as a value (parsed from, or written to, `outputText`).
    public var output: JSONValue? {
        get { outputText?.value }
        set { outputText = newValue.map(JSONText.init) }
    }

    public static let maxErrorBytes = 64 * 1024

    public init(jobId: String, attempt: Int, ok: Bool, output: JSONValue? = nil, error: String? = nil, retryable: Bool = true) {
        self.jobId = jobId
        self.attempt = attempt
        self.ok = ok
        self.outputText = output.map(JSONText.init)
        self.error = error
        self.retryable = retryable
    }

    public init(body o: [String: JSONValue]) throws(WireError) {
        jobId = try Field.requiredString(o, "job_id")
        guard let a = try Field.optionalInt(o, "attempt", range: 1...Int64(Int32.max)) else {
            throw WireError(.badRequest, "attempt: required")
        }
        attempt = Int(a)
        guard let ok = try Field.optionalBool(o, "ok") else { throw WireError(.badRequest, "ok: required") }
        self.ok = ok
        // `null` means absent (replies omit empty fields rather than carry null).
        if let out = o["output"], out != .null { outputText = JSONText(out) } else { outputText = nil }
        error = try Field.optionalString(o, "error", maxBytes: Self.maxErrorBytes)
        retryable = try Field.optionalBool(o, "retryable") ?? true
    }

    public var body: [String: JSONValue] {
        var o: [String: JSONValue] = ["job_id": .string(jobId), "attempt": .int(Int64(attempt)), "ok": .bool(ok)]
        if let output { o["output"] = output }
        if let error { o["error"] = .string(error) }
        if !retryable { o["retryable"] = .bool(false) }
        return o
    }
}

/// CANCEL to a worker: stop this attempt of this job; its result will be ignored.
public struct CancelJobBody: Equatable, Sendable {
    /// Why, for programs (spec §9.3): a worker tells a timeout from a cancel without
    /// parsing the English `reason`.
    public enum Code: String, Sendable {
        case timeout
        /// No PROGRESS within the job's `heartbeat_timeout_ms`.
        case heartbeatTimeout = "heartbeat_timeout"
        case cancelled
        case stopped
        case workflowFailed = "workflow_failed"
        /// The workflow ended some other way (kept for states a later version adds).
        case workflowEnded = "workflow_ended"
    }

    public var jobId: String
    public var attempt: Int
    /// `Code`'s raw value; a code this version does not know is kept as sent.
    public var code: String
    public var reason: String

    public init(jobId: String, attempt: Int, code: Code, reason: String) {
        self.jobId = jobId
        self.attempt = attempt
        self.code = code.rawValue
        self.reason = reason
    }

    public init(body o: [String: JSONValue]) throws(WireError) {
        jobId = try Field.requiredString(o, "job_id")
        attempt = Int(try Field.optionalInt(o, "attempt", range: 1...Int64(Int32.max)) ?? 1)
        code = try Field.optionalString(o, "code") ?? ""
        reason = try Field.optionalString(o, "reason") ?? ""
    }

    public var body: [String: JSONValue] {
        ["job_id": .string(jobId), "attempt": .int(Int64(attempt)), "code": .string(code), "reason": .string(reason)]
    }
}

/// DISCONNECT from the broker: `code` for programs, `reason` for people (spec §9.3).
public enum DisconnectCode: String, Sendable {
    /// A message from a connection that is not a registered worker (normal after a
    /// broker restart): reconnect and send READY.
    case unknownWorker = "unknown_worker"
    /// READY had an invalid field; `reason` names it.
    case badReady = "bad_ready"
    /// The broker is stopping.
    case shuttingDown = "shutting_down"
    /// A reload removed this worker's key from the allowlist.
    case keyRemoved = "key_removed"
    /// Frame 1 named another version of the worker protocol (`BATON-W/2`, ...).
    case unsupportedVersion = "unsupported_version"

    public func body(_ reason: String) -> [String: JSONValue] {
        ["code": .string(rawValue), "reason": .string(reason)]
    }
}

/// What this broker can do beyond the base protocol, announced in PONG and in the
/// HEARTBEAT that answers READY (`features`), so SDKs adapt instead of guessing.
public enum BrokerFeatures {
    public static let all: [String] = ["backup", "cancel_codes", "drain", "progress", "stats", "status_paging", "strict_spec"]
}
