import BatonWire

/// Each job's attempts, rebuilt from the workflow's events (spec §7): STATUS carries only
/// a job's latest attempt, the events every one: who ran it, when, how it ended.
struct AttemptLog: Sendable, Equatable {
    struct Attempt: Sendable, Equatable {
        var number: Int64
        var worker: String?
        var dispatchedAt: Int64
        var endedAt: Int64?
        /// running, succeeded, retried, failed, cancelled, stopped.
        var outcome: String
        var error: String?
    }

    /// Per job id, its attempts in dispatch order.
    private(set) var attempts: [String: [Attempt]] = [:]
    /// The last event folded in (the live stream goes on from there).
    private(set) var lastSeq: Int64 = 0
    /// False when reading stopped at the cap before the end of the log.
    var complete = true

    subscript(_ jobId: String) -> [Attempt] { attempts[jobId] ?? [] }

    mutating func add(_ e: WorkflowEvent) {
        lastSeq = max(lastSeq, e.seq)
        guard let job = e.fields["job_id"]?.stringValue else { return }
        let number = e.fields["attempt"]?.intValue
        if e.kind == .jobDispatched {
            attempts[job, default: []].append(Attempt(number: number ?? 0, worker: e.fields["worker"]?.stringValue,
                                                      dispatchedAt: e.at, outcome: "running"))
            return
        }
        guard let outcome = Self.outcome(e.kind), var list = attempts[job], !list.isEmpty else { return }
        // The attempt the event ends: the one it names, else the latest.
        let i = list.lastIndex { number == nil || $0.number == number } ?? list.count - 1
        list[i].outcome = outcome
        list[i].endedAt = e.at
        if let err = e.fields["error"]?.stringValue { list[i].error = err }
        attempts[job] = list
    }

    static func outcome(_ kind: EventKind) -> String? {
        switch kind {
        case .jobSucceeded: "succeeded"
        case .jobRetrying: "retried"
        case .jobFailed: "failed"
        case .jobCancelled: "cancelled"
        case .jobStopped: "stopped"
        default: nil
        }
    }
}
