/// What STATUS reports: the whole picture of one workflow.
public struct WorkflowStatus: Equatable, Sendable {
    public struct Job: Equatable, Sendable {
        public var jobId: String
        public var type: String
        public var name: String?
        public var state: JobState
        public var attempt: Int
        /// The output's canonical text (`JSONText`), written into a STATUS page as it is.
        public var outputText: JSONText?
        public var error: String?
        public var startedAt: Int64?
        public var finishedAt: Int64?
        /// What holds a PENDING job back besides its block's concurrency (for people).
        public var waitingFor: String?
        /// The running attempt's last PROGRESS details and when they came (in memory only:
        /// absent once the attempt ended, or after a broker restart).
        public var progress: JSONValue?
        public var progressAt: Int64?

        public init(jobId: String, type: String, name: String? = nil, state: JobState, attempt: Int,
                    output: JSONValue? = nil, error: String? = nil, startedAt: Int64? = nil, finishedAt: Int64? = nil,
                    waitingFor: String? = nil) {
            self.jobId = jobId
            self.type = type
            self.name = name
            self.state = state
            self.attempt = attempt
            self.outputText = output.map(JSONText.init)
            self.error = error
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.waitingFor = waitingFor
        }

        /// A job with its output as text already (the broker's STATUS: no tree made).
        public init(jobId: String, type: String, name: String? = nil, state: JobState, attempt: Int,
                    outputText: JSONText?, error: String? = nil, startedAt: Int64? = nil, finishedAt: Int64? = nil) {
            self.init(jobId: jobId, type: type, name: name, state: state, attempt: attempt, error: error,
                      startedAt: startedAt, finishedAt: finishedAt)
            self.outputText = outputText
        }

        /// The output as a value (parsed from, or written to, `outputText`).
        public var output: JSONValue? {
            get { outputText?.value }
            set { outputText = newValue.map(JSONText.init) }
        }
    }

    public struct Block: Equatable, Sendable {
        public var state: BlockState
        public var jobs: [Job]

        public init(state: BlockState, jobs: [Job]) {
            self.state = state
            self.jobs = jobs
        }
    }

    public var id: String
    public var name: String
    public var state: WorkflowState
    public var reason: String?
    public var blocks: [Block]
    public var submittedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// The name of the key that submitted it (spec §3.6); nil in plain mode.
    public var owner: String?

    public init(id: String, name: String, state: WorkflowState, reason: String? = nil, blocks: [Block],
                submittedAt: Int64, startedAt: Int64? = nil, finishedAt: Int64? = nil, owner: String? = nil) {
        self.id = id
        self.name = name
        self.state = state
        self.reason = reason
        self.blocks = blocks
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.owner = owner
    }

    public var jobCount: Int { blocks.reduce(0) { $0 + $1.jobs.count } }
    public func count(_ state: JobState) -> Int {
        blocks.reduce(0) { $0 + $1.jobs.filter { $0.state == state }.count }
    }

    // MARK: JSON

    /// Its fields besides the blocks: those of its LIST row.
    var summary: WorkflowSummary {
        WorkflowSummary(id: id, name: name, state: state, reason: reason, submittedAt: submittedAt, startedAt: startedAt,
                        finishedAt: finishedAt, owner: owner)
    }

    /// The summary's members (a LIST row) plus `blocks`.
    public var json: JSONValue {
        var o = summary.fields(capacity: 9)
        o["blocks"] = .array(blocks.map { b in
            ["state": .string(b.state.rawValue), "jobs": .array(b.jobs.map(\.json))]
        })
        return .object(o)
    }

    public init(json o: [String: JSONValue]) throws(WireError) {
        id = try Field.requiredString(o, "id")
        name = try Field.requiredString(o, "name")
        state = try enumField(o, "state")
        reason = try Field.optionalString(o, "reason")
        submittedAt = try timeField(o, "submitted_at") ?? 0
        startedAt = try timeField(o, "started_at")
        finishedAt = try timeField(o, "finished_at")
        owner = try Field.optionalString(o, "owner")
        var blocks: [Block] = []
        for (i, b) in (o["blocks"]?.arrayValue ?? []).enumerated() {
            let bo = try object(b, "blocks[\(i)]")
            var jobs: [Job] = []
            for (k, j) in (bo["jobs"]?.arrayValue ?? []).enumerated() {
                jobs.append(try Job(json: try object(j, "blocks[\(i)].jobs[\(k)]")))
            }
            blocks.append(Block(state: try enumField(bo, "state"), jobs: jobs))
        }
        self.blocks = blocks
    }
}

extension WorkflowStatus.Job {
    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "job_id": .string(jobId), "type": .string(type), "state": .string(state.rawValue),
            "attempt": .int(Int64(attempt)),
        ]
        if let name { o["name"] = .string(name) }
        if let output { o["output"] = output }
        if let error { o["error"] = .string(error) }
        if let startedAt { o["started_at"] = .string(Timestamp.format(ms: startedAt)) }
        if let finishedAt { o["finished_at"] = .string(Timestamp.format(ms: finishedAt)) }
        if let waitingFor { o["waiting_for"] = .string(waitingFor) }
        if let progress { o["progress"] = progress }
        if let progressAt { o["progress_at"] = .string(Timestamp.format(ms: progressAt)) }
        return .object(o)
    }

    public init(json o: [String: JSONValue]) throws(WireError) {
        jobId = try Field.requiredString(o, "job_id")
        type = try Field.requiredString(o, "type")
        name = try Field.optionalString(o, "name")
        state = try enumField(o, "state")
        attempt = Int(try Field.optionalInt(o, "attempt", range: 0...Int64(Int32.max)) ?? 0)
        outputText = o["output"].map(JSONText.init)
        error = try Field.optionalString(o, "error", maxBytes: 1 << 20)
        startedAt = try timeField(o, "started_at")
        finishedAt = try timeField(o, "finished_at")
        waitingFor = try Field.optionalString(o, "waiting_for")
        progress = o["progress"]
        progressAt = try timeField(o, "progress_at")
    }
}

func enumField<E: RawRepresentable>(_ o: [String: JSONValue], _ key: String) throws(WireError) -> E where E.RawValue == String {
    let s = try Field.requiredString(o, key)
    guard let e = E(rawValue: s) else { throw bad(key, "unknown value \"\(s)\"") }
    return e
}

func timeField(_ o: [String: JSONValue], _ key: String) throws(WireError) -> Int64? {
    guard let s = try Field.optionalString(o, key) else { return nil }
    guard let ms = Timestamp.parse(s) else { throw bad(key, "not an RFC 3339 UTC timestamp") }
    return ms
}
