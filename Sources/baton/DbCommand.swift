import ArgumentParser
import BatonStore
import BatonWire
import Foundation

struct DbCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "The broker's database file, offline.", subcommands: [DbCheckCommand.self])
}

/// `baton db check FILE`: integrity, schema version and counts of a database no broker
/// holds (a backup, or the file of a stopped broker). Reads only: it never migrates.
struct DbCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a database file offline: integrity, schema version, workflows by state, size.",
        discussion: "Exit 0 when the file is sound, 1 when it is not (or a broker holds it: stop it, or check a `baton backup`), 64 when it cannot be read.")

    @Argument(help: "The database file.") var file: String
    @Flag(help: "Print a JSON object instead of text.") var json = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: file) else { throw InputError("\(file): no such file") }
        let store: Store
        do {
            store = try Store(path: file, access: .inspector)
        } catch let error as StoreError {
            if case .locked = error {
                printError("error: \(file) is held by a running broker; stop it first, or check a copy from `baton backup`")
                throw ExitStatus.unsuccessful.exitCode
            }
            throw InputError("\(file): \(error)")
        } catch {
            throw InputError("\(file): not a Baton database (\(error))")
        }
        let integrity = try store.integrityCheck()
        let version = try store.schemaVersion()
        let counts = try store.countByState()
        let (bytes, free) = try store.fileSize()
        let ok = integrity == "ok" && version <= Schema.currentVersion
        if json {
            printJSON(["ok": .bool(ok), "integrity": .string(integrity), "schema_version": .int(Int64(version)),
                       "current_schema_version": .int(Int64(Schema.currentVersion)), "bytes": .int(bytes), "free_pages": .int(Int64(free)),
                       "workflows": .object(Dictionary(uniqueKeysWithValues: WorkflowState.allCases.map {
                           ($0.rawValue, JSONValue.int(Int64(counts[$0, default: 0])))
                       }))])
        } else {
            print("integrity: \(integrity)")
            let note = version < Schema.currentVersion ? " (older: a broker migrates it when it opens the file)"
                : version > Schema.currentVersion ? " (NEWER than this baton understands)" : ""
            print("schema version: \(version) of \(Schema.currentVersion)\(note)")
            print("workflows: " + WorkflowState.allCases.map { "\(counts[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", "))
            print(String(format: "size: %.1f MiB, %d free page(s)", Double(bytes) / 1_048_576, free))
        }
        if !ok { throw ExitStatus.unsuccessful.exitCode }
    }
}
