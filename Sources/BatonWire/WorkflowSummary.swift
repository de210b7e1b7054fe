/// A row of a LIST reply: one workflow without its blocks and jobs.
public struct WorkflowSummary: Equatable, Sendable {
    public var id: String
    public var name: String
    public var state: WorkflowState
    public var reason: String?
    public var submittedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// The name of the key that submitted it (spec §3.6); nil in plain mode.
    public var owner: String?

    public init(id: String, name: String, state: WorkflowState, reason: String?, submittedAt: Int64, startedAt: Int64?,
                finishedAt: Int64?, owner: String? = nil) {
        self.id = id
        self.name = name
        self.state = state
        self.reason = reason
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.owner = owner
    }

    public var json: JSONValue { .object(fields(capacity: 8)) }

    /// The summary's members, with room for `capacity` (STATUS adds `blocks` to them).
    func fields(capacity: Int) -> [String: JSONValue] {
        var o = [String: JSONValue](minimumCapacity: capacity)
        o["id"] = .string(id)
        o["name"] = .string(name)
        o["state"] = .string(state.rawValue)
        o["submitted_at"] = .string(Timestamp.format(ms: submittedAt))
        if let reason { o["reason"] = .string(reason) }
        if let startedAt { o["started_at"] = .string(Timestamp.format(ms: startedAt)) }
        if let finishedAt { o["finished_at"] = .string(Timestamp.format(ms: finishedAt)) }
        if let owner { o["owner"] = .string(owner) }
        return o
    }

    /// Parses a row as `json` writes it; throws `bad_request` naming the bad field.
    public init(json o: [String: JSONValue]) throws(WireError) {
        id = try Field.requiredString(o, "id")
        name = try Field.requiredString(o, "name")
        state = try enumField(o, "state")
        reason = try Field.optionalString(o, "reason")
        guard let submitted = try timeField(o, "submitted_at") else { throw bad("submitted_at", "required") }
        submittedAt = submitted
        startedAt = try timeField(o, "started_at")
        finishedAt = try timeField(o, "finished_at")
        owner = try Field.optionalString(o, "owner")
    }
}
