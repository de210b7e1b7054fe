import ArgumentParser
import BatonClient
import BatonWire
import Foundation

/// `baton backup OUT.db`: the broker writes a consistent copy of its live database
/// (BACKUP, spec §4.3.11) while it serves.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Have the broker write a consistent copy of its live database (an admin command).",
        discussion: """
            The copy is written by the broker, on the broker's host: a relative OUT is made absolute from the \
            current directory, which is right when you run this on that host. It is never overwritten, it is \
            compact (VACUUM INTO) and fsynced before the answer. Start a broker on it with `baton broker --db OUT` \
            to restore: every unfinished workflow in it resumes, as after a crash.
            """)

    @Argument(help: "Where the broker writes the copy (must not exist).") var out: String
    @Option(help: "How long to wait for the copy, in seconds (default 600).") var waitSeconds = 600
    @Flag(help: "Print the reply as JSON: {path, bytes, workflows, took_ms}.") var json = false
    @OptionGroup var client: ClientOptions

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("OUT: must not be empty") }
        guard waitSeconds >= 1 else { throw ValidationError("--wait-seconds must be at least 1") }
    }

    func run() throws {
        let path = URL(fileURLWithPath: out).standardizedFileURL.path
        let body = try withClient(client) { try $0.backup(path: path, waitMs: waitSeconds * 1000) }
        if json { return printJSON(.object(body)) }
        let bytes = Double(body["bytes"]?.intValue ?? 0) / 1_048_576
        print(String(format: "backup written: %@ (%.1f MiB, %lld workflow(s), %lld ms)", body["path"]?.stringValue ?? path, bytes,
                     body["workflows"]?.intValue ?? 0, body["took_ms"]?.intValue ?? 0))
    }
}
