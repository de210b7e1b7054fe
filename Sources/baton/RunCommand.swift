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
        let final = try withClient(client) { c -> WorkflowStatus in
            let submitted = try c.submit(spec, idempotencyKey: key)
            print("submitted \(submitted.id) (\(spec.name), \(spec.jobCount) job(s) in \(spec.blocks.count) block(s))")
            // The ID is on disk before EXEC: a crash from here on can always be resumed.
            try journalFile.append(["id": .string(submitted.id), "file": .string(file), "step": "submitted"])
            let started = try c.exec(submitted.id)
            print("exec \(started.id): \(started.state.rawValue)")
            try journalFile.append(["id": .string(submitted.id), "step": "exec"])
            let status = try Follower(client: c, id: submitted.id).follow(after: 0)
            try journalFile.append(["id": .string(submitted.id), "step": "finished", "state": .string(status.state.rawValue)])
            return status
        }
        throw ExitCode(final.state == .succeeded ? 0 : 1)
    }
}

/// An append-only journal of JSON lines, fsynced per line: the client's record of every
/// workflow it started, so that it can find them again after a crash.
struct Journal {
    let path: String

    func append(_ entry: [String: JSONValue]) throws {
        var e = entry
        e["at"] = .string(Timestamp.format(ms: Int64(Date().timeIntervalSince1970 * 1000)))
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw ValidationError("--journal: cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = JSONWriter.bytes(.object(e)) + [0x0A]
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else {
            throw ValidationError("--journal: cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
