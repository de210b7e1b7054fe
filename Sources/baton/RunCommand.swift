import ArgumentParser
import BatonClient
import BatonWire
import Foundation

/// The whole handshake: SUBMIT, journal the ID, EXEC, follow to the end.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "SUBMIT a workflow, record its ID in the journal, EXEC it and follow it to the end.",
        discussion: "Exit code: 0 when the workflow SUCCEEDED, 1 when it ended otherwise, 2 on a client error.")

    @Argument(help: "Workflow file (JSON).") var file: String
    @Option(help: "Idempotency key (default: a new random key per run).") var key: String?
    @Option(help: "Journal file: one JSON line per handshake step.") var journal = ".baton/journal.jsonl"
    @OptionGroup var client: ClientOptions

    func run() throws {
        let spec = try loadWorkflow(file)
        let journalFile = Journal(path: journal)
        // A run of the same spec that a crash left unfinished is picked up, not repeated.
        let pending = try journalFile.unfinished().first { $0.spec == spec }
        let final = try withClient(client) { c -> WorkflowStatus in
            if let pending {
                print("re-attaching to \(pending.id ?? "the workflow") of \(pending.file) from the journal \(journal)")
                return try Handshake(client: c, journal: journalFile).complete(pending)
            }
            let entry = Journal.Entry(key: key ?? "run-\(UUID().uuidString.lowercased())", file: file, spec: spec)
            return try Handshake(client: c, journal: journalFile).complete(entry)
        }
        throw ExitCode(final.state == .succeeded ? 0 : 1)
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Re-attach to every workflow the journal holds that was not seen to finish.",
        discussion: """
            For each unfinished journal entry: no ID yet -> SUBMIT again with the same key and spec \
            (the broker returns the same ID if the first SUBMIT was stored); SUBMITTED -> EXEC; \
            RUNNING -> watch; finished -> report. Exit 0 only if all SUCCEEDED.
            """)

    @Option(help: "Journal file written by `baton run`.") var journal = ".baton/journal.jsonl"
    @OptionGroup var client: ClientOptions

    func run() throws {
        let journalFile = Journal(path: journal)
        let pending = try journalFile.unfinished()
        if pending.isEmpty {
            print("nothing to resume: every workflow in \(journal) was seen to finish")
            return
        }
        var allSucceeded = true
        try withClient(client) { c in
            for entry in pending {
                print("== resuming \(entry.id ?? "(not yet submitted)") from \(entry.file)")
                let status = try Handshake(client: c, journal: journalFile).complete(entry)
                allSucceeded = allSucceeded && status.state == .succeeded
            }
        }
        throw ExitCode(allSucceeded ? 0 : 1)
    }
}

/// The client side of the handshake, driven from a journal entry so that any step can
/// be repeated after a crash: SUBMIT (same key, same spec: same ID), journal the ID,
/// EXEC (idempotent), follow, journal the outcome.
struct Handshake {
    let client: BatonClient
    let journal: Journal

    func complete(_ start: Journal.Entry) throws -> WorkflowStatus {
        var entry = start
        if entry.id == nil {
            // Journaled before SUBMIT: if we die before the ID comes back, a resume
            // re-SUBMITs with this key and the broker answers with the same ID.
            try journal.append(entry, step: "submitting")
            let submitted = try client.submit(entry.spec, idempotencyKey: entry.key)
            entry.id = submitted.id
            print("submitted \(submitted.id) (\(entry.spec.name), \(entry.spec.jobCount) job(s) in \(entry.spec.blocks.count) block(s))")
            // The ID is on disk before EXEC: from here on the workflow cannot be lost.
            try journal.append(entry, step: "submitted")
        }
        let id = entry.id!
        var status = try client.status(id)
        if status.state == .submitted {
            status = try client.exec(id)
            print("exec \(id): \(status.state.rawValue)")
            try journal.append(entry, step: "exec")
        }
        let final = status.state.isFinal ? status : try Follower(client: client, id: id).follow(after: 0)
        if status.state.isFinal { print(StatusPrinter.render(final)) }
        try journal.append(entry, step: "finished", state: final.state)
        return final
    }
}

