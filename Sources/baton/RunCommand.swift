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
        var printer = HandshakePrinter(journal: journal)
        let final = try withJournal {
            try withClient(client) { c in
                try c.run(spec, file: file, idempotencyKey: key, journal: Journal(path: journal)) { printer.print($0) }
            }
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
        if journalFile.unfinished().isEmpty {
            print("nothing to resume: every workflow in \(journal) was seen to finish")
            return
        }
        var printer = HandshakePrinter(journal: journal)
        let finals = try withJournal {
            try withClient(client) { c in try c.resume(journalFile) { printer.print($0) } }
        }
        throw ExitCode(finals.allSatisfy { $0.state == .succeeded } ? 0 : 1)
    }
}

/// A journal that cannot be written is a usage error (a bad `--journal` path), as it was
/// before the handshake moved into the SDK.
private func withJournal<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as JournalError {
        throw ValidationError("--journal: \(error)")
    }
}

/// Prints the handshake's steps as they happen.
struct HandshakePrinter {
    let journal: String
    private var progress = ProgressLines(snapshot: nil)

    init(journal: String) {
        self.journal = journal
    }

    mutating func print(_ step: BatonClient.HandshakeStep) {
        switch step {
        case .reattaching(let entry):
            Swift.print("re-attaching to \(entry.id ?? "the workflow") of \(entry.file) from the journal \(journal)")
        case .resuming(let entry):
            Swift.print("== resuming \(entry.id ?? "(not yet submitted)") from \(entry.file)")
        case .submitted(let submitted, let entry):
            let spec = entry.spec
            Swift.print("submitted \(submitted.id) (\(spec.name), \(spec.jobCount) job(s) in \(spec.blocks.count) block(s))")
        case .waiting(let ms, let reason):
            Swift.print("waiting \(ms) ms before EXEC again: \(reason)")
        case .executed(let status):
            Swift.print("exec \(status.id): \(status.state.rawValue)")
        case .following(let snapshot):
            progress = ProgressLines(snapshot: snapshot)
        case .event(let e):
            Swift.print(progress.line(e))
        case .finished(let status):
            Swift.print(StatusPrinter.render(status))
        case .stopped(let status):
            Swift.print(StatusPrinter.render(status))
            Swift.print("an emergency stop holds \(status.id); once it is lifted (`baton go`), `baton resume --journal \(journal)` continues it")
        }
    }
}
