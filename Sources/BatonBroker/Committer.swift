import BatonStore
import BatonWire
import DequeModule
import Foundation

/// Commits the broker's turns on a thread of its own, in order, so that the event loop
/// reads and decides the next turn while the previous one is written and fsynced. Under
/// low load the event loop may commit a turn on its own thread instead (`commitHere`),
/// when nothing is queued or being worked on here.
///
/// Invariants (what keeps "every reply after its commit"):
/// - Turns are applied in the order `submit` received them, and come back from
///   `takeDone` in that order; the event loop sends a turn's messages only then.
/// - Turns that queued up while a commit ran are applied together in ONE transaction
///   (group commit across turns: one fsync however many turns waited), up to and
///   including the first that has deferred reads.
/// - A turn's deferred reads are answered here, after its commit, on the same
///   connection, so they see what the turn wrote and nothing a later turn wrote.
/// - Its key lookups are answered after its commit too, but do not end a group commit:
///   a key not in memory belongs to no workflow or to a finished one, and no later turn
///   can change either (a SUBMIT with that key waits for the answer; final states are
///   final), so reading after later turns' writes gives the same answer.
/// - After a failed commit, every turn already queued comes back failed without being
///   applied (each was decided on top of the failed one), until `resume()`. This is the
///   committer's half of the broker's one recovery path (`BrokerLoop+Recovery.swift`).
///
/// - Retention (when on): between commits it deletes expired finished workflows in small
///   transactions of their own (`Retention`), one batch at a time with a gap between
///   batches while turns are waiting, so a backlog of a million is worked off without
///   one long transaction that stalls SUBMIT. Deleting touches no workflow the engine
///   holds: only final workflows that finished more than `keepMs` ago, which left memory
///   when the turn that finished them was committed.
///
/// The store is this thread's while a turn is queued or being applied; the event loop
/// may use it only when nothing is in flight (it then waits on an idle queue).
///
/// `@unchecked Sendable`: the event loop calls `submit`, `commitHere`, `takeDone`,
/// `resume` and `stop` while this object's thread runs `loop`. That is safe because every
/// mutable stored property (`queued`, `done`, `refusal`, `stopping`, `exited`, `working`,
/// `committingHere`, ...) is read and written only with `condition` locked, and the rest
/// are immutable (`let`) and `Sendable`; `commit` itself runs on one thread at a time
/// (`commitHere` runs it only while this thread works on nothing and starts nothing).
/// The compiler cannot check it: `NSCondition`'s lock and wait have no `Mutex`
/// equivalent in the standard library. `CommitterTests.testConcurrentSubmitters`
/// drives it from several threads at once and would catch a lost or reordered turn.
final class Committer: @unchecked Sendable {
    /// Commits since start, for STATS: one transaction (and one fsync) each.
    struct CommitStats: Sendable {
        var count = 0
        var failed = 0
        var seconds = Histogram.commitSeconds()
        /// Workflows deleted by retention, and the retention batches that failed.
        var deleted = 0
        var deleteFailures = 0

        var json: JSONValue { ["count": .int(Int64(count)), "failed": .int(Int64(failed)), "seconds": seconds.json] }
    }

    /// How long finished workflows are kept, and how the deletion is paced.
    ///
    /// A turn that arrives while a deleting transaction commits waits for it, fsync
    /// included. So while turns come, deletion rides in their own transactions
    /// (`fold` workflows at most every `foldGap`): it adds a few hundred microseconds
    /// to one commit and no fsync. When no turn is queued, it runs in transactions of its
    /// own, `chunk` workflows per statement, stopping once a turn is queued or `budget`
    /// is spent, `gap` apart. (`scripts/bench-retention` measures SUBMIT latency while a
    /// backlog of expired workflows is deleted.)
    struct Retention: Sendable {
        /// Finished workflows older than this are deleted (ms).
        var keepMs: Int64
        /// At most this many workflows per deleting transaction of its own.
        var batch = 256
        /// Workflows per DELETE statement in a transaction of its own.
        var chunk = 4
        /// No further chunk once a transaction of its own has run this long.
        var budget = Duration.milliseconds(1)
        /// Between transactions of its own while a backlog remains.
        var gap = Duration.milliseconds(5)
        /// Workflows deleted inside one turn's commit, and how often.
        var fold = 4
        var foldGap = Duration.milliseconds(2)
        /// How often to look for newly expired workflows once none is left.
        var idleCheck = Duration.seconds(1)
    }

    /// A copy of the commit figures so far.
    func stats() -> CommitStats {
        condition.lock()
        defer { condition.unlock() }
        return commitStats
    }

    /// A turn back from the committer.
    struct Done: Sendable {
        var output: TurnOutput
        /// Replies to the turn's deferred reads (empty when the commit failed).
        var answers: [ClientReply]
        /// Answers to the turn's key lookups, for the engine (empty when the commit failed).
        var lookups: [KeyLookup]
        /// Why the commit failed; nil when the turn is committed.
        var failure: String?
    }

    private let store: Store
    /// Shared with the event loop (one `FinishedRecords` for both threads).
    let reads: ReadSide
    /// At most this many turns go into one transaction (bounds a transaction's size).
    private let maxTurnsPerCommit: Int
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queued: Deque<TurnOutput> = []
    private var done: [Done] = []
    private var refusal: String?
    private var stopping = false
    private var exited = false
    private var commitStats = CommitStats()
    /// Whether this thread has taken work (turns or a retention batch) and not finished it.
    private var working = false
    /// Whether the event loop is committing a turn on its own thread (`commitHere`):
    /// this thread then starts nothing.
    private var committingHere = false
    private let retention: Retention?
    /// When the next retention batch may run (guarded by `condition`).
    private var nextPruneAt = ContinuousClock.now
    /// The event loop polls `readyFd`; a byte is written when `done` becomes non-empty.
    private let ready: WakePipe
    var readyFd: Int32 { ready.readFd }

    init(store: Store, reads: ReadSide, maxTurnsPerCommit: Int = 16, retention: Retention? = nil) throws {
        self.store = store
        self.reads = reads
        self.maxTurnsPerCommit = maxTurnsPerCommit
        self.retention = retention
        ready = try WakePipe()
        let thread = Thread { [self] in loop() }
        thread.name = "baton-committer"
        thread.start()
    }

    /// Queues a turn for commit.
    func submit(_ output: TurnOutput) {
        condition.lock()
        queued.append(output)
        condition.signal()
        condition.unlock()
    }

    /// The turns finished since the last call, oldest first. Never blocks.
    func takeDone() -> [Done] {
        // Drain the wake-up bytes first, then take: a turn finished in between leaves
        // its byte in the pipe, so no wake-up is lost.
        ready.drain()
        condition.lock()
        defer { condition.unlock() }
        let finished = done
        done = []
        return finished
    }

    /// Commits `output` on the caller's thread and returns it done, if nothing is queued
    /// or being worked on here and no failed commit is waiting for `resume` (else nil:
    /// `submit` it). For a turn that arrives when the broker is otherwise idle: handing
    /// it to this thread and back costs two thread wake-ups (tens of microseconds each on
    /// a virtual machine). While it runs this thread starts nothing (no retention batch),
    /// so the store stays one thread's at a time; a failure refuses later turns until
    /// `resume`, as one on this thread does.
    func commitHere(_ output: TurnOutput) -> Done? {
        condition.lock()
        guard queued.isEmpty, !working, refusal == nil, !stopping else {
            condition.unlock()
            return nil
        }
        committingHere = true
        condition.unlock()
        let done = commit([output], refused: nil, pruning: nil)[0]
        condition.lock()
        committingHere = false
        if let failure = done.failure { refusal = failure }
        // No signal: this thread waits for a retention batch with a timeout (`nextWork`),
        // and waking it after every commit here cost a thread wake-up each.
        condition.unlock()
        return done
    }

    /// Accepts turns again after a failed commit (the event loop has rebuilt its memory
    /// from the store).
    func resume() {
        condition.lock()
        refusal = nil
        condition.unlock()
    }

    /// Finishes what is queued, then ends the thread; returns when it has ended.
    ///
    /// `discardQueued`: drop the turns not yet started instead (the broker is leaving on
    /// an error and will not send their messages: a JOB committed RUNNING but never sent
    /// would cost its job an attempt at the next start, and no client heard of them).
    func stop(discardQueued: Bool = false) {
        condition.lock()
        if discardQueued { queued = [] }
        stopping = true
        condition.broadcast()
        while !exited { condition.wait() }
        condition.unlock()
    }

    /// What the thread does next.
    private enum Work {
        /// Turns to commit, and whether a retention batch rides in their transaction.
        case turns([TurnOutput], refused: String?, pruning: Retention?)
        case prune(Retention)
    }

    private func loop() {
        while let work = nextWork() {
            guard case .turns(let turns, let refused, let pruning) = work else {
                if case .prune(let retention) = work { prune(retention) }
                condition.lock()
                working = false
                condition.unlock()
                continue
            }
            let finished = commit(turns, refused: refused, pruning: pruning)
            condition.lock()
            working = false
            let wasEmpty = done.isEmpty
            done += finished
            if refusal == nil, let failure = finished.first?.failure { refusal = failure }
            condition.unlock()
            if wasEmpty { ready.signal() }
        }
        condition.lock()
        exited = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for queued turns or a due retention batch; nil once stopping with nothing left.
    private func nextWork() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while queued.isEmpty && !stopping {
            guard let retention, refusal == nil else {
                condition.wait()
                continue
            }
            var left = ContinuousClock.now.duration(to: nextPruneAt)
            if left <= .zero {
                if !committingHere {
                    working = true
                    return .prune(retention)
                }
                // Due while the event loop commits a turn itself (`commitHere`, which
                // does not signal): look again shortly.
                left = retention.foldGap
            }
            let (s, atto) = left.components
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(s) + Double(atto) / 1e18))
        }
        if queued.isEmpty { return nil }
        // Due while turns wait: the batch rides in their commit (`Retention`).
        let due = refusal == nil && !stopping && ContinuousClock.now >= nextPruneAt
        // A commit ends with the first turn that has deferred reads: they are answered
        // after the commit, and must not see what later turns wrote (that turn's replies
        // go out before the later turns', which were decided from older memory).
        var count = 0
        while count < min(queued.count, maxTurnsPerCommit) {
            count += 1
            if !queued[count - 1].reads.isEmpty { break }
        }
        let turns = Array(queued.prefix(count))
        queued.removeFirst(count)
        working = true
        return .turns(turns, refused: refusal, pruning: due ? retention : nil)
    }

    /// One retention batch, in a transaction of its own; paced by `nextPruneAt`. A
    /// failure deletes nothing and is retried at the next check (it changes nothing the
    /// engine holds, so it needs no recovery).
    private func prune(_ retention: Retention) {
        let cutoff = WallClock.nowMs() - retention.keepMs
        let started = ContinuousClock.now
        var deleted = 0, failed = false, noneLeft = true
        do {
            (deleted, noneLeft) = try store.deleteFinished(before: cutoff, limit: retention.batch, chunk: retention.chunk) {
                ContinuousClock.now - started < retention.budget && !turnsWaiting()
            }
        } catch {
            failed = true
        }
        // A failure may come after some chunks were committed (and deleted): drop then too.
        if deleted > 0 || failed { reads.finished.dropAll() }
        // A transaction cut short (a waiting turn, the budget, the batch) leaves a
        // backlog: the next one comes after `gap`.
        pruned(deleted, failed: failed, next: failed || noneLeft ? retention.idleCheck : retention.gap)
    }

    /// Counts a retention batch and sets when the next one is due.
    private func pruned(_ deleted: Int, failed: Bool, next: Duration) {
        condition.lock()
        commitStats.deleted += deleted
        if failed { commitStats.deleteFailures += 1 }
        nextPruneAt = ContinuousClock.now + next
        condition.unlock()
    }

    /// Whether the event loop has queued a turn (a deleting transaction then ends).
    private func turnsWaiting() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return !queued.isEmpty
    }

    private func record(_ change: (inout CommitStats) -> Void) {
        condition.lock()
        change(&commitStats)
        condition.unlock()
    }

    /// A reply with its body written to bytes; an ERROR stays a value, because the loop
    /// counts ERRORs by code (`ServerStats`) and would have to parse the bytes back.
    private static func writtenUnlessError(_ r: ClientReply) -> ClientReply {
        r.command == .error ? r : r.encoded
    }

    private func commit(_ turns: [TurnOutput], refused: String?, pruning: Retention?) -> [Done] {
        if let refused { return turns.map { Done(output: $0, answers: [], lookups: [], failure: refused) } }
        let started = ContinuousClock.now
        do {
            let cutoff = pruning.map { WallClock.nowMs() - $0.keepMs }
            let (deleted, noneLeft) = try store.apply(turns.map(\.writes), deletingFinishedBefore: cutoff,
                                                      limit: pruning?.fold ?? 0)
            for i in turns.indices { reads.finished.committed(turns[i].writes) }
            if deleted > 0 { reads.finished.dropAll() }
            if let pruning {
                // A deletion that failed was rolled back alone (0 deleted, not "none left"):
                // it is tried again after `foldGap`, like a cut-short batch.
                pruned(deleted, failed: false, next: noneLeft ? pruning.idleCheck : pruning.foldGap)
            }
        } catch {
            record { $0.failed += 1 }
            return turns.map { Done(output: $0, answers: [], lookups: [], failure: "\(error)") }
        }
        let elapsed = (ContinuousClock.now - started).components
        record {
            $0.count += 1
            $0.seconds.observe(Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18)
        }
        return turns.map { turn in
            let answers = reads.answer(turn.reads).map(Self.writtenUnlessError)
            let lookups = reads.lookUps(turn)
            // Work the event loop would otherwise do after the commit, done here on the
            // committer's thread, which has room (the loop is the busier of the two): the
            // committed rows are freed here (the loop needs them no more; their release
            // was about 17k instructions per one-job workflow on the loop), and replies
            // and worker messages are written to bytes here.
            var turn = turn
            turn.writes = WriteBatch()
            turn.replies = turn.replies.map(Self.writtenUnlessError)
            // In place: a mapped copy copied each send twice more (~1k instructions a JOB).
            for i in turn.workerSends.indices { turn.workerSends[i].encode() }
            return Done(output: turn, answers: answers, lookups: lookups, failure: nil)
        }
    }
}
