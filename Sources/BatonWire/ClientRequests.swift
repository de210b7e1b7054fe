/// Typed bodies of client requests, each validated from the request's JSON object.

public struct SubmitRequest: Equatable, Sendable {
    public var workflow: WorkflowSpec
    public var idempotencyKey: String?

    public static let maxKeyBytes = 256

    public init(workflow: WorkflowSpec, idempotencyKey: String? = nil) {
        self.workflow = workflow
        self.idempotencyKey = idempotencyKey
    }

    public init(body: [String: JSONValue]) throws(WireError) {
        guard let w = body["workflow"] else { throw WireError(.badRequest, "workflow: required") }
        workflow = try WorkflowSpec.parse(w)
        idempotencyKey = try Field.optionalString(body, "idempotency_key", maxBytes: Self.maxKeyBytes)
        if idempotencyKey == "" { throw WireError(.badRequest, "idempotency_key: must not be empty") }
    }

    public var body: JSONValue {
        var o: [String: JSONValue] = ["workflow": workflow.json]
        if let idempotencyKey { o["idempotency_key"] = .string(idempotencyKey) }
        return .object(o)
    }
}

/// The `{"id"}` body of EXEC, STATUS and CANCEL.
public struct WorkflowRef: Equatable, Sendable {
    public var id: String

    public init(id: String) { self.id = id }

    public init(body: [String: JSONValue]) throws(WireError) {
        id = try Field.requiredString(body, "id", maxBytes: Self.maxIdBytes)
    }

    /// The longest id a request may name.
    public static let maxIdBytes = 128

    public var body: JSONValue { ["id": .string(id)] }
}

/// STATUS's body: the workflow, and the first job of the page asked for (spec §4.3.3).
public struct StatusRequest: Equatable, Sendable {
    public var id: String
    /// Counted over the workflow's jobs in spec order; 0 (the default) is the first page.
    public var jobsFrom: Int

    public init(id: String, jobsFrom: Int = 0) {
        self.id = id
        self.jobsFrom = jobsFrom
    }

    public init(body: [String: JSONValue]) throws(WireError) {
        id = try WorkflowRef(body: body).id
        jobsFrom = Int(clamping: try Field.optionalInt(body, "jobs_from", range: 0...Int64.max) ?? 0)
    }

    /// Without `jobs_from` for the first page: what every v1 broker understands.
    public var body: JSONValue {
        jobsFrom == 0 ? ["id": .string(id)] : ["id": .string(id), "jobs_from": .int(Int64(jobsFrom))]
    }
}

/// STOP's body: the emergency stop of one workflow name, or of every name (`"*"`).
public struct StopRequest: Equatable, Sendable {
    public var name: String
    public var reason: String

    /// The name that covers every workflow.
    public static let everyName = "*"
    public static let maxReasonBytes = 1024

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    public init(body: [String: JSONValue]) throws(WireError) {
        name = try stopName(body)
        reason = try Field.requiredString(body, "reason", maxBytes: Self.maxReasonBytes)
        if reason.isEmpty { throw WireError(.badRequest, "reason: must not be empty") }
    }

    public var body: JSONValue { ["name": .string(name), "reason": .string(reason)] }
}

/// RESUME's body: lifts the stop of exactly this name (or of `"*"`).
public struct ResumeRequest: Equatable, Sendable {
    public var name: String

    public init(name: String) { self.name = name }

    public init(body: [String: JSONValue]) throws(WireError) {
        name = try stopName(body)
    }

    public var body: JSONValue { ["name": .string(name)] }
}

/// BACKUP (spec §4.3.11): where the broker writes the copy, on its own host.
public struct BackupRequest: Equatable, Sendable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(body: [String: JSONValue]) throws(WireError) {
        path = try Field.requiredString(body, "path", maxBytes: 4096)
        guard path.hasPrefix("/") else {
            throw WireError(.badRequest, "path: must be absolute (a path on the broker's host), got \"\(path)\"")
        }
        guard !path.utf8.contains(0), !path.hasSuffix("/") else { throw WireError(.badRequest, "path: not a file name") }
    }

    public var body: JSONValue { ["path": .string(path)] }
}

/// The `name` of STOP and RESUME: a workflow name or `"*"`, never empty.
private func stopName(_ body: [String: JSONValue]) throws(WireError) -> String {
    let name = try Field.requiredString(body, "name", maxBytes: WorkflowSpec.Limits.maxNameBytes)
    if name.isEmpty { throw WireError(.badRequest, "name: must not be empty (a workflow name, or \"*\" for every name)") }
    return name
}

public struct WatchRequest: Equatable, Sendable {
    public var id: String
    public var after: Int64
    public var waitMs: Int64

    /// Longest long-poll a client may ask for.
    public static let maxWaitMs: Int64 = 60_000

    public init(id: String, after: Int64 = 0, waitMs: Int64 = 0) {
        self.id = id
        self.after = after
        self.waitMs = waitMs
    }

    public init(body: [String: JSONValue]) throws(WireError) {
        id = try Field.requiredString(body, "id", maxBytes: WorkflowRef.maxIdBytes)
        after = try Field.optionalInt(body, "after", range: 0...Int64.max) ?? 0
        waitMs = try Field.optionalInt(body, "wait_ms", range: 0...Self.maxWaitMs) ?? 0
    }

    public var body: JSONValue { ["id": .string(id), "after": .int(after), "wait_ms": .int(waitMs)] }
}

public struct ListRequest: Equatable, Sendable {
    public var state: WorkflowState?
    public var name: String?
    public var limit: Int
    /// Paging cursor: return workflows older than this one (the `next` of the last page).
    public var before: String?
    /// Only workflows of this owner (spec §3.6). The broker sets it to a client key's
    /// own name whatever the request said.
    public var owner: String?

    public static let maxLimit = 1000

    public init(state: WorkflowState? = nil, name: String? = nil, limit: Int = 50, before: String? = nil,
                owner: String? = nil) {
        self.state = state
        self.name = name
        self.limit = limit
        self.before = before
        self.owner = owner
    }

    public init(body: [String: JSONValue]) throws(WireError) {
        if let s = try Field.optionalString(body, "state") {
            guard let st = WorkflowState(rawValue: s) else {
                throw WireError(.badRequest, "state: unknown state \"\(s)\"; one of \(WorkflowState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = st
        }
        name = try Field.optionalString(body, "name", maxBytes: WorkflowSpec.Limits.maxNameBytes)
        limit = Int(try Field.optionalInt(body, "limit", range: 1...Int64(Self.maxLimit)) ?? 50)
        before = try Field.optionalString(body, "before", maxBytes: 128)
        owner = try Field.optionalString(body, "owner", maxBytes: WorkflowSpec.Limits.maxNameBytes)
    }

    public var body: JSONValue {
        var o: [String: JSONValue] = ["limit": .int(Int64(limit))]
        if let state { o["state"] = .string(state.rawValue) }
        if let name { o["name"] = .string(name) }
        if let before { o["before"] = .string(before) }
        if let owner { o["owner"] = .string(owner) }
        return .object(o)
    }
}
