import BatonClient
import BatonWire

/// Prints the handshake's steps as they happen, for people or (`json`) as JSON lines,
/// and keeps the Ctrl-C notice current. It also remembers where the handshake stands
/// (`key`, `id`), so an error can say what became of the workflow.
struct HandshakePrinter {
    let journal: String
    let json: Bool
    let verbose: Bool
    /// The idempotency key and the workflow id of the entry in hand, once known.
    private(set) var key: String?
    private(set) var id: String?
    private(set) var skipped = 0
    private var names: JobNames?
    private var progress: ProgressPrinter?

    init(journal: String, json: Bool, verbose: Bool) {
        self.journal = journal
        self.json = json
        self.verbose = verbose
    }

    mutating func print(_ step: BatonClient.HandshakeStep) {
        switch step {
        case .reattaching(let entry):
            start(entry)
            say("re-attaching to \(entry.id ?? "the unfinished run") of \(entry.file) from the journal \(journal) (same spec, not seen to finish)",
                ["type": "reattaching", "key": .string(entry.key), "file": .string(entry.file), "id": entry.id.map(JSONValue.string) ?? .null])
        case .resuming(let entry):
            start(entry)
            say("== resuming \(entry.id ?? "(not acknowledged: submitting again with its key)") from \(entry.file)",
                ["type": "resuming", "key": .string(entry.key), "file": .string(entry.file), "id": entry.id.map(JSONValue.string) ?? .null])
        case .submitting(let entry):
            start(entry)
        case .submitted(let submitted, let entry):
            id = submitted.id
            let spec = entry.spec
            say("submitted \(submitted.id) (\(spec.name), \(spec.jobCount) job(s) in \(spec.blocks.count) block(s))",
                ["type": "submitted", "id": .string(submitted.id), "key": .string(entry.key), "duplicate": .bool(submitted.duplicate),
                 "state": .string(submitted.state.rawValue)])
            if submitted.duplicate { noteDuplicate(submitted, key: entry.key) }
            InterruptNotice.set("workflow \(submitted.id) is stored (SUBMITTED) but was not executed; `baton exec \(submitted.id)` or `baton resume --journal \(journal)` starts it")
        case .waiting(let ms, let reason):
            say("waiting \(ms) ms before EXEC again: \(reason)", ["type": "waiting", "retry_after_ms": .int(ms), "reason": .string(reason)])
        case .executed(let status):
            id = status.id
            say("exec \(status.id): \(Style.state(status.state.rawValue))",
                ["type": "exec", "id": .string(status.id), "state": .string(status.state.rawValue)])
            keepsRunning(status.id)
        case .following(let snapshot, let after):
            id = snapshot.id
            var p = ProgressPrinter(names: names ?? JobNames(status: snapshot), verbose: verbose)
            if after > 0 {
                p.seed(snapshot)
                say("following \(snapshot.id) after event \(after) (the journal's last; earlier events are not repeated)",
                    ["type": "following", "id": .string(snapshot.id), "after": .int(after)])
            }
            progress = p
            keepsRunning(snapshot.id)
        case .event(let e):
            if json {
                emit(["type": "event", "id": id.map(JSONValue.string) ?? .null, "event": e.json])
            } else if var p = progress {
                for line in p.lines(e) { Swift.print(line) }
                progress = p
            }
        case .held(let id, let reasons):
            if json {
                emit(["type": "held", "id": .string(id), "reasons": .array(reasons.map(JSONValue.string))])
            } else {
                Swift.print(Style.warning("\(id): no progress for \(BatonClient.quietBeforeAskingMs / 1000) s; jobs wait on: \(reasons.joined(separator: "; "))"))
            }
        case .finished(let status):
            if json { emit(["type": "final", "status": status.json]) } else { Swift.print(StatusRenderer.render(status)) }
        case .stopped(let status):
            if json {
                emit(["type": "stopped", "status": status.json])
            } else {
                Swift.print(StatusRenderer.render(status))
                Swift.print("an emergency stop holds \(status.id); once it is lifted (`baton go`), `baton resume --journal \(journal)` continues it")
            }
        case .skipped(let entry):
            skipped += 1
            say("skipped \(entry.file) (key \(entry.key)): its SUBMIT was never acknowledged, so the broker may not have it; `baton resume --submit-pending --journal \(journal)` submits it again with the same key (the broker answers with the same ID if it stored the first)",
                ["type": "skipped", "key": .string(entry.key), "file": .string(entry.file)])
        }
    }

    /// What an error leaves behind, for the line after `error: ...`.
    func aftermath(_ error: ClientError) -> String {
        if let id {
            return "workflow \(id) is stored at the broker and keeps its state; `baton resume --journal \(journal)` re-attaches to it (or `baton watch \(id)`)"
        }
        guard let key else { return "nothing was submitted" }
        if case .remote = error { return "the broker refused the SUBMIT; nothing was stored (the journal \(journal) keeps the attempt, key \(key))" }
        return "no reply to SUBMIT: the broker may or may not have stored the workflow. The journal \(journal) holds it under key \(key), not acknowledged: `baton resume --submit-pending --journal \(journal)` submits it again with that key (the broker answers with the same ID if it stored the first); plain `baton resume` leaves it alone"
    }

    private mutating func start(_ entry: Journal.Entry) {
        key = entry.key
        id = entry.id
        names = JobNames(spec: entry.spec)
        progress = nil
        if let id = entry.id { keepsRunning(id) }
    }

    private func noteDuplicate(_ submitted: BatonClient.Submitted, key: String) {
        guard !json else { return }
        if submitted.state.isFinal {
            Swift.print("note: key \(key) already names workflow \(submitted.id), which finished \(Style.state(submitted.state.rawValue)); nothing runs again (another --key runs the workflow anew)")
        } else {
            Swift.print("note: key \(key) already names workflow \(submitted.id) (\(submitted.state.rawValue)); following that one")
        }
    }

    private func keepsRunning(_ id: String) {
        InterruptNotice.set("workflow \(id) keeps running at the broker; re-attach with `baton watch \(id)` or `baton resume --journal \(journal)`")
    }

    private func say(_ text: String, _ object: [String: JSONValue]) {
        if json { emit(object) } else { Swift.print(text) }
    }

    private func emit(_ object: [String: JSONValue]) {
        Swift.print(JSONWriter.string(.object(object)))
    }
}
