import BatonWire
import Foundation

/// The whole handshake of spec §10.1, journaled so that a workflow, once submitted, is
/// never lost: SUBMIT with an idempotency key journaled first, journal the id, EXEC,
/// follow to the end, journal the outcome. Any step can be repeated after a crash:
/// SUBMIT with the same key and spec returns the same id, EXEC of a started workflow
/// changes nothing, and following replays the events from the start.
extension BatonClient {
    /// What the handshake is doing, reported as it happens (for progress output).
    public enum HandshakeStep: Sendable {
        /// `run` found an unfinished journal entry with the same spec and completes it
        /// instead of submitting again.
        case reattaching(Journal.Entry)
        /// `resume` starts completing this entry.
        case resuming(Journal.Entry)
        /// The entry is journaled and its SUBMIT goes out next: if no reply comes, the
        /// journal holds it unacknowledged under this key.
        case submitting(Journal.Entry)
        /// SUBMIT returned the entry's id (journaled next).
        case submitted(Submitted, Journal.Entry)
        /// EXEC was refused by a rate limit (`rate_limited`); it is sent again after
        /// `retryAfterMs`. `reason` is the broker's message.
        case waiting(retryAfterMs: Int64, reason: String)
        /// EXEC started the workflow.
        case executed(WorkflowStatus)
        /// The workflow runs; following its events starts from this snapshot, after event
        /// `after` (0: from the start; a resumed entry starts after the last `seq` its
        /// journal recorded, so it does not replay every event).
        case following(WorkflowStatus, after: Int64)
        /// One event of the workflow, in `seq` order (from the first one on).
        case event(WorkflowEvent)
        /// The workflow is final (journaled next).
        case finished(WorkflowStatus)
        /// An emergency stop parked the workflow (not journaled as finished: once the stop
        /// is lifted, `resume` sends EXEC and it continues).
        case stopped(WorkflowStatus)
        /// No event for a while, and STATUS says why jobs wait (`waiting_for`, e.g. `no
        /// worker for disk.erase`): reported when the set of reasons changes, so a job
        /// type nobody serves is never a silent hang.
        case held(id: String, reasons: [String])
        /// `resume` left this entry alone: its SUBMIT was never acknowledged, so it may
        /// not exist at the broker (`submitPending` submits it again).
        case skipped(Journal.Entry)
    }

    /// How long following may see no event before STATUS is asked why (`held`).
    public static let quietBeforeAskingMs: Int64 = 3000

    /// SUBMIT `spec`, journal its id, EXEC it and follow it to the end; returns the final
    /// STATUS. With a journal, an unfinished entry with the same spec (a run a crash
    /// interrupted) is completed instead of submitting again.
    ///
    /// - Parameters:
    ///   - file: where the spec came from, kept in the journal for messages.
    ///   - idempotencyKey: the SUBMIT key (default: a new random `run-` key).
    ///   - journal: nil runs the same handshake without journaling it.
    /// - Throws: `ClientError`, or `JournalError` when a step could not be journaled (the
    ///   handshake stops before taking that step).
    public func run(_ spec: WorkflowSpec, file: String = "<swift>", idempotencyKey: String? = nil,
                    journal: Journal? = nil, progress: (HandshakeStep) -> Void = { _ in }) throws -> WorkflowStatus {
        if let pending = journal?.unfinished().first(where: { $0.spec == spec }) {
            progress(.reattaching(pending))
            return try complete(pending, journal: journal, progress: progress)
        }
        let entry = Journal.Entry(key: idempotencyKey ?? "run-\(UUID().uuidString.lowercased())", file: file, spec: spec)
        return try complete(entry, journal: journal, progress: progress)
    }

    /// Completes every unfinished journal entry, in the order they were started; returns
    /// their final STATUS in that order (empty when every entry was seen to finish).
    /// - Throws: like `run`; the entries after the one that failed are left unfinished.
    ///
    /// An entry whose SUBMIT was never acknowledged (no id journaled) may or may not exist
    /// at the broker: it is reported `skipped` and left unfinished, unless `submitPending`,
    /// which SUBMITs it again with its key (the broker answers with the same id if the
    /// first SUBMIT was stored, else stores it now).
    public func resume(_ journal: Journal, submitPending: Bool = false,
                       progress: (HandshakeStep) -> Void = { _ in }) throws -> [WorkflowStatus] {
        try journal.unfinished().compactMap { entry in
            guard entry.id != nil || submitPending else {
                progress(.skipped(entry))
                return nil
            }
            progress(.resuming(entry))
            return try complete(entry, journal: journal, progress: progress)
        }
    }

    /// Follows a workflow with WATCH long-polls of up to `waitMs`, calling `onEvent` for
    /// each event after `after` in order, until the workflow is settled (final, or
    /// STOPPED by an emergency stop) and every event has been read; returns its STATUS. To pick up after a crash, pass the last `seq`
    /// seen.
    public func watch(_ id: String, after: Int64 = 0, waitMs: Int64 = 1000,
                      onEvent: (WorkflowEvent) throws -> Void) throws -> WorkflowStatus {
        var after = after
        while true {
            let page = try watch(id, after: after, waitMs: waitMs)
            for e in page.events {
                after = e.seq
                try onEvent(e)
            }
            if page.events.isEmpty && page.state.isSettled { break }
        }
        return try status(id)
    }

    /// Follows a workflow like `watch(_:after:waitMs:onEvent:)`, and after
    /// `quietBeforeAskingMs` without an event asks STATUS why jobs wait, calling `onHeld`
    /// with the reasons (`waiting_for`, e.g. `no worker for disk.erase`) whenever they
    /// change: a job type nobody serves is never a silent hang.
    public func follow(_ id: String, after start: Int64 = 0, onEvent: (WorkflowEvent) throws -> Void,
                       onHeld: ([String]) -> Void) throws -> WorkflowStatus {
        var after = start
        var lastEventAt = ContinuousClock.now
        var reported: [String] = []
        while true {
            let page = try watch(id, after: after, waitMs: 1000)
            for e in page.events {
                after = e.seq
                try onEvent(e)
            }
            if page.events.isEmpty && page.state.isSettled { break }
            if !page.events.isEmpty {
                lastEventAt = .now
            } else if ContinuousClock.now - lastEventAt >= .milliseconds(Self.quietBeforeAskingMs) {
                let reasons = Self.waitingReasons(try status(id))
                // Compared without their times ("retry backoff until T" moves on by itself).
                let gist = reasons.map(Self.withoutTime)
                if gist != reported {
                    reported = gist
                    if !reasons.isEmpty { onHeld(reasons) }
                }
            }
        }
        return try status(id)
    }

    /// Journals the last event `seq` seen while following (a `seen` line), at most every
    /// `every`: a resumed run starts there instead of replaying every event. Losing the
    /// newest one to a crash only means replaying a little more.
    private struct SeenRecorder {
        var entry: Journal.Entry
        let journal: Journal?
        var lastWritten = ContinuousClock.now
        static let every: Duration = .seconds(2)

        init(entry: Journal.Entry, journal: Journal?) {
            self.entry = entry
            self.journal = journal
        }

        mutating func saw(_ seq: Int64) throws {
            entry.seenSeq = seq
            guard let journal, ContinuousClock.now - lastWritten >= Self.every else { return }
            lastWritten = .now
            try journal.append(entry, step: .seen)
        }
    }

    /// A reason without its trailing time (" until T", ": next token at T").
    static func withoutTime(_ reason: String) -> String {
        for marker in [" until ", ": next token at "] {
            if let r = reason.range(of: marker) { return String(reason[..<r.lowerBound]) }
        }
        return reason
    }

    /// The distinct `waiting_for` reasons of a status's jobs, in first-seen order.
    static func waitingReasons(_ s: WorkflowStatus) -> [String] {
        var seen = Set<String>()
        var reasons: [String] = []
        for b in s.blocks { for j in b.jobs { if let w = j.waitingFor, seen.insert(w).inserted { reasons.append(w) } } }
        return reasons
    }

    /// EXEC, sent again after each `rate_limited` refusal's `retry_after_ms` (a limit on
    /// the workflow's name holds it back; the wait is reported, never silent). Other
    /// errors, `stopped` and `policy_denied` among them, end the handshake.
    private func execHonouringRateLimits(_ id: String, progress: (HandshakeStep) -> Void) throws -> WorkflowStatus {
        while true {
            do {
                return try exec(id)
            } catch let error as ClientError {
                guard case .remote(let e) = error, e.code == .rateLimited, let wait = e.details["retry_after_ms"]?.intValue else {
                    throw error
                }
                progress(.waiting(retryAfterMs: wait, reason: e.message))
                Thread.sleep(forTimeInterval: Double(min(max(wait, 1), 60_000)) / 1000)
            }
        }
    }

    /// The state machine of §10.1 from wherever the entry stands: no id yet -> SUBMIT
    /// (again) with the same key; SUBMITTED or STOPPED -> EXEC (which continues a STOPPED
    /// one, or throws `stopped` while its stop is in force); RUNNING -> follow; final ->
    /// report. A workflow that ends STOPPED is reported but not journaled as finished.
    private func complete(_ start: Journal.Entry, journal: Journal?, progress: (HandshakeStep) -> Void) throws -> WorkflowStatus {
        var entry = start
        let id: String
        if let known = entry.id {
            id = known
        } else {
            // Journaled before SUBMIT: if we die before the id comes back, a resume
            // re-SUBMITs with this key and the broker answers with the same id.
            try journal?.append(entry, step: .submitting)
            progress(.submitting(entry))
            let submitted = try submit(entry.spec, idempotencyKey: entry.key)
            id = submitted.id
            entry.id = id
            progress(.submitted(submitted, entry))
            // The id is on disk before EXEC: from here on the workflow cannot be lost.
            try journal?.append(entry, step: .submitted)
        }
        var status = try status(id)
        if status.state == .submitted || status.state == .stopped {
            status = try execHonouringRateLimits(id, progress: progress)
            progress(.executed(status))
            try journal?.append(entry, step: .exec)
        }
        if !status.state.isSettled {
            // After the last event a journal recorded; the events before it were reported
            // by the run that recorded them (a new snapshot has their effect).
            let after = entry.seenSeq
            if after > 0 { status = try self.status(id) }
            progress(.following(status, after: after))
            var seen = SeenRecorder(entry: entry, journal: journal)
            status = try follow(id, after: after, onEvent: { e in
                progress(.event(e))
                try seen.saw(e.seq)
            }, onHeld: { progress(.held(id: id, reasons: $0)) })
        }
        guard status.state.isFinal else {
            progress(.stopped(status))
            return status
        }
        progress(.finished(status))
        try journal?.append(entry, step: .finished, state: status.state)
        return status
    }
}
