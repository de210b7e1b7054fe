import BatonWire

/// What the engine has done since the broker started, for STATS (spec §4.3.10). Plain
/// integers bumped where the event happens: a STATS request reads them, nothing else
/// does, so keeping them costs an add per event on the hot path and no allocation.
struct EngineCounters {
    /// New workflows stored (not duplicates of a key).
    var submitted = 0
    /// EXECs that started a workflow (SUBMITTED → RUNNING).
    var executed = 0
    var dispatched = 0
    /// Attempts ended by a RESULT `ok: true` / `ok: false` (applied, not fenced).
    var succeeded = 0
    var failed = 0
    /// Attempts scheduled again after one ended without success.
    var retries = 0
    var timeouts = 0
    var heartbeatTimeouts = 0
    /// Workers counted dead or unreachable (not those that said DISCONNECT).
    var workersLost = 0
    /// RESULTs and PROGRESS dropped by fencing (spec §10.6).
    var fenced = 0
    /// Workflows that reached each final state.
    var finished: [WorkflowState: Int] = [:]

    var json: [String: JSONValue] {
        ["submitted": .int(Int64(submitted)), "executed": .int(Int64(executed)), "dispatched": .int(Int64(dispatched)),
         "succeeded": .int(Int64(succeeded)), "failed": .int(Int64(failed)), "retries": .int(Int64(retries)),
         "timeouts": .int(Int64(timeouts)), "heartbeat_timeouts": .int(Int64(heartbeatTimeouts)),
         "workers_lost": .int(Int64(workersLost)), "fenced": .int(Int64(fenced))]
    }

    var finishedJSON: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: [WorkflowState.succeeded, .failed, .cancelled, .expired].map {
            ($0.rawValue, JSONValue.int(Int64(finished[$0, default: 0])))
        }))
    }
}
