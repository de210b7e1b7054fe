import BatonStore
import BatonWire
import DequeModule
import Synchronization

/// The last finished workflows, kept so a STATUS of one does not read and parse it
/// from the store: those whose final turn was just committed (the SDKs follow a
/// workflow with WATCH and then ask STATUS once it ends, by which time the engine has
/// dropped it), and those STATUS read from the store (the next page of a big one, a
/// client polling a result it already has).
///
/// Why: reading a finished workflow back parses its spec and every job's output; for
/// the fan-out benchmark's 5,250-job workflows, that was 13k instructions per job,
/// a tenth of the broker's work per job (35k before the reads were compiled).
///
/// Why it stays true: a finished workflow no longer in the engine's memory is never
/// written again (the engine answers from memory until its final turn is committed,
/// then drops it, and no command reopens a final workflow); it only goes away, by
/// retention. The record a committed batch wrote as final is the stored row, as the
/// store would read it back (write-through: `FinishedRecordsTests` compares the two).
/// An entry is dropped on any other committed write that names its workflow (defence,
/// and cheap) and all are dropped on any deletion. A read that raced a deletion does not
/// put its record back: `generation` moves on every drop, and a record read before the
/// drop is not kept.
///
/// Bounded by `maxEntries` records and `maxJobs` jobs in all, oldest out first; a
/// workflow over the jobs bound is not kept (its STATUS pages read it again). What a
/// kept record holds (its spec, its outputs) the engine held while it ran.
final class FinishedRecords: Sendable {
    static let maxEntries = 64
    static let maxJobs = 50_000

    private struct State {
        var entries = WorkflowIdMap<WorkflowRecord>()
        /// Ids in the order kept, oldest first. May still name entries dropped since
        /// (skipped when their turn to go comes); compacted when it outgrows them.
        var order = Deque<String>()
        var jobs = 0
        var generation = 0
    }

    private let state = Mutex(State())

    init() {}

    /// The generation to hand back to `keep` with a record read from the store now.
    var generation: Int { state.withLock { $0.generation } }

    func record(_ id: String) -> WorkflowRecord? {
        state.withLock { $0.entries[id] }
    }

    /// Keeps `record`, read from the store, if it is final, small enough, and nothing
    /// was dropped since `generation` was taken (before the store read that produced it).
    func keep(_ record: WorkflowRecord, readAt generation: Int) {
        guard record.state.isFinal else { return }
        state.withLock { s in
            guard s.generation == generation, !s.entries.contains(record.id) else { return }
            Self.store(record, &s)
        }
    }

    /// After a commit: drops the entries the batches wrote to, then keeps the workflows
    /// they finished (their final records, as written).
    func committed(_ batches: [WriteBatch]) {
        for i in batches.indices { committed(batches[i]) }
    }

    /// `committed` for one batch. Records are reached by index, not iterated: a loop
    /// variable copied each record (a retain per field) and the profile showed it.
    func committed(_ batch: WriteBatch) {
        state.withLock { s in
            if !s.entries.isEmpty {
                for i in batch.updated.indices where !batch.updated[i].state.isFinal { drop(batch.updated[i].id, &s) }
                for i in batch.jobs.indices { drop(batch.jobs[i].workflowId, &s) }
            }
            for i in batch.inserted.indices where batch.inserted[i].state.isFinal { Self.store(batch.inserted[i], &s) }
            for i in batch.updated.indices where batch.updated[i].state.isFinal { Self.store(batch.updated[i], &s) }
        }
    }

    /// Drops everything: workflows were deleted.
    func dropAll() {
        state.withLock { s in
            s.entries = WorkflowIdMap()
            s.order = []
            s.jobs = 0
            s.generation += 1
        }
    }

    private static func jobCount(_ w: WorkflowRecord) -> Int { w.jobs.reduce(0) { $0 + $1.count } }

    /// Keeps `w` (in place of any entry of its id), then makes room, oldest out first.
    private static func store(_ w: WorkflowRecord, _ s: inout State) {
        let jobs = jobCount(w)
        guard jobs <= maxJobs else { return }
        if let old = s.entries.removeValue(forKey: w.id) { s.jobs -= jobCount(old) }
        s.entries[w.id] = w
        s.jobs += jobs
        s.order.append(w.id)
        while s.entries.count > maxEntries || s.jobs > maxJobs, let oldest = s.order.popFirst() {
            if let gone = s.entries.removeValue(forKey: oldest) { s.jobs -= jobCount(gone) }
        }
        if s.order.count > 4 * maxEntries {
            s.order = Deque(s.order.filter { s.entries[$0] != nil })
        }
    }

    private func drop(_ id: String, _ s: inout State) {
        guard let gone = s.entries.removeValue(forKey: id) else { return }
        s.jobs -= Self.jobCount(gone)
        s.generation += 1
    }
}
