import ArgumentParser
import BatonClient
import BatonWire
import Foundation

/// Where `run` and `resume` journal: `--journal`, else $BATON_JOURNAL, else this default.
struct JournalOption: ParsableArguments {
    static let defaultPath = ".baton/journal.jsonl"

    @Option(name: .customLong("journal"), help: "Journal file: one JSON line per handshake step (default $BATON_JOURNAL, else \(defaultPath)).")
    var flag: String?

    var path: String { flag ?? environment("BATON_JOURNAL") ?? Self.defaultPath }
}

/// How a following command prints: for people, or JSON lines for programs.
struct FollowOutput: ParsableArguments {
    @Flag(help: "Print one JSON object per line: each step and event, then the final status.") var json = false
    @Flag(help: "Print every event, also for workflows of more than \(ProgressPrinter.condenseAbove) jobs (whose dispatches and successes are otherwise counted per block).")
    var verbose = false
}

/// The whole handshake: SUBMIT, journal the ID, EXEC, follow to the end.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "SUBMIT a workflow, record its ID in the journal, EXEC it and follow it to the end.",
        discussion: """
            Output is live, line by line, also when redirected; the ID is printed as soon as the broker \
            acknowledges the SUBMIT. Ctrl-C stops following, not the workflow: it prints how to re-attach. \
            A --key that already names a finished workflow reports that workflow and runs nothing.

            \(ExitStatus.table)
            """)

    @Argument(help: "Workflow file (JSON).") var file: String
    @Option(help: "Idempotency key (default: a new random key per run).") var key: String?
    @OptionGroup var journal: JournalOption
    @OptionGroup var output: FollowOutput
    @OptionGroup var client: ClientOptions

    func run() throws {
        let spec = try loadWorkflow(file)
        let path = journal.path
        InterruptNotice.install("nothing was submitted yet")
        var printer = HandshakePrinter(journal: path, json: output.json, verbose: output.verbose)
        let final = try withJournal {
            try withClient(client, explain: { printer.aftermath($0) }) { c in
                try c.run(spec, file: file, idempotencyKey: key, journal: Journal(path: path)) { printer.print($0) }
            }
        }
        throw (final.state == .succeeded ? ExitStatus.success : .unsuccessful).exitCode
    }
}

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Re-attach to every workflow the journal holds that was not seen to finish.",
        discussion: """
            For each unfinished journal entry: SUBMITTED (or STOPPED) -> EXEC; RUNNING -> follow; \
            finished -> report. An entry whose SUBMIT was never acknowledged is skipped and named, \
            unless --submit-pending (the broker answers a re-SUBMIT with the same key with the same ID \
            if it stored the first). Exit 0 only if every entry SUCCEEDED and none was skipped.

            \(ExitStatus.table)
            """)

    @OptionGroup var journal: JournalOption
    @Flag(help: "Also SUBMIT again the entries whose SUBMIT was never acknowledged, with their keys.") var submitPending = false
    @OptionGroup var output: FollowOutput
    @OptionGroup var client: ClientOptions

    func run() throws {
        let path = journal.path
        guard FileManager.default.fileExists(atPath: path) else {
            throw InputError("--journal: no journal at \(path); `baton run` writes \(JournalOption.defaultPath) under the directory it ran in, or where --journal or BATON_JOURNAL said")
        }
        let journalFile = Journal(path: path)
        if journalFile.unfinished().isEmpty {
            print("nothing to resume: every workflow in \(path) was seen to finish")
            return
        }
        InterruptNotice.install("nothing was resumed yet")
        var printer = HandshakePrinter(journal: path, json: output.json, verbose: output.verbose)
        let finals = try withJournal {
            try withClient(client, explain: { printer.aftermath($0) }) { c in
                try c.resume(journalFile, submitPending: submitPending) { printer.print($0) }
            }
        }
        let allSucceeded = finals.allSatisfy { $0.state == .succeeded } && printer.skipped == 0
        throw (allSucceeded ? ExitStatus.success : .unsuccessful).exitCode
    }
}

/// A journal that cannot be written is an input error (a bad `--journal` path).
private func withJournal<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as JournalError {
        throw InputError("--journal: \(error)")
    }
}
