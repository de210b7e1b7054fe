import BatonStore
import Synchronization

/// The last few finished workflows STATUS read from the store, kept so the next STATUS
/// of the same workflow (the next page of a big one, a client polling a result it
/// already has) does not read and parse it again.
///
/// Why: reading a finished workflow back parses its spec and every job's output; for
/// the fan-out benchmark's 5,250-job workflows, paged by the client, that was 35k
/// instructions per job, an eighth of the broker's work per job.
///
/// Why it stays true: a finished workflow no longer in the engine's memory is never
/// written again (the engine answers from memory until its final turn is committed,
/// then drops it, and no command reopens a final workflow); it only goes away, by
/// retention. So an entry is dropped on any committed write that names its workflow
/// anyway (defence, and cheap: a handful of entries) and all are dropped on any
/// deletion. A read that raced a deletion does not put its record back: `generation`
/// moves on every drop, and a record read before the drop is not kept.
///
/// Bounded by `maxEntries` records and `maxJobs` jobs in all; a workflow over the
/// jobs bound is not kept (its STATUS pages read it again, as before).
final class FinishedRecords: Sendable {
    static let maxEntries = 4
    static let maxJobs = 50_000

    private struct State {
        /// Oldest first.
        var entries: [WorkflowRecord] = []
        var jobs = 0
        var generation = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The generation to hand back to `keep` with a record read from the store now.
    var generation: Int { state.withLock { $0.generation } }

    func record(_ id: String) -> WorkflowRecord? {
        state.withLock { s in s.entries.last { $0.id == id } }
    }

    /// Keeps `record` if it is final, small enough, and nothing was dropped since
    /// `generation` was taken (before the store read that produced it).
    func keep(_ record: WorkflowRecord, readAt generation: Int) {
        guard record.state.isFinal else { return }
        let jobs = record.jobs.reduce(0) { $0 + $1.count }
        guard jobs <= Self.maxJobs else { return }
        state.withLock { s in
            guard s.generation == generation, !s.entries.contains(where: { $0.id == record.id }) else { return }
            s.entries.append(record)
            s.jobs += jobs
            while s.entries.count > Self.maxEntries || s.jobs > Self.maxJobs {
                s.jobs -= s.entries.removeFirst().jobs.reduce(0) { $0 + $1.count }
            }
        }
    }

    /// Drops the entries a committed batch wrote to.
    func committed(_ batches: some Sequence<WriteBatch>) {
        state.withLock { s in
            guard !s.entries.isEmpty else { return }
            for batch in batches {
                for w in batch.updated { drop(w.id, &s) }
                for j in batch.jobs { drop(j.workflowId, &s) }
            }
        }
    }

    /// Drops everything: workflows were deleted.
    func dropAll() {
        state.withLock { s in
            s.entries = []
            s.jobs = 0
            s.generation += 1
        }
    }

    private func drop(_ id: String, _ s: inout State) {
        guard let i = s.entries.firstIndex(where: { $0.id == id }) else { return }
        s.jobs -= s.entries.remove(at: i).jobs.reduce(0) { $0 + $1.count }
        s.generation += 1
    }
}
