import ArgumentParser
import BatonWire
import Foundation

/// The client's journal: an append-only file of JSON lines, fsynced per line, recording
/// each handshake step of every workflow `baton run` started, so that after a crash
/// `baton resume` can find them all again.
///
/// Lines: `{"step": "submitting"|"submitted"|"exec"|"finished", "key", "file", "id"?,
/// "spec"?, "state"?, "at"}`. Entries are grouped by idempotency key. A torn last line (a
/// crash mid-write) is skipped on read.
struct Journal {
    let path: String

    struct Entry {
        var key: String
        var file: String
        var spec: WorkflowSpec
        var id: String?
    }

    func append(_ e: Entry, step: String, state: WorkflowState? = nil) throws {
        var line: [String: JSONValue] = [
            "step": .string(step), "key": .string(e.key), "file": .string(e.file),
            "at": .string(Timestamp.format(ms: Int64(Date().timeIntervalSince1970 * 1000))),
        ]
        if let id = e.id { line["id"] = .string(id) }
        if step == "submitting" { line["spec"] = e.spec.json }
        if let state { line["state"] = .string(state.rawValue) }
        try write(line)
    }

    /// Entries whose last step is not "finished", in the order they were started.
    func unfinished() throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var order: [String] = []
        var entries: [String: Entry] = [:]
        var finished: Set<String> = []
        for raw in data.split(separator: 0x0A) {
            guard let line = try? JSONParser.parse(Array(raw)), let key = line["key"]?.stringValue else { continue }
            switch line["step"]?.stringValue {
            case "submitting":
                guard let specJSON = line["spec"], let spec = try? WorkflowSpec.parse(specJSON) else { continue }
                if entries[key] == nil { order.append(key) }
                entries[key] = Entry(key: key, file: line["file"]?.stringValue ?? "?", spec: spec, id: entries[key]?.id)
                finished.remove(key)
            case "submitted", "exec":
                if let id = line["id"]?.stringValue { entries[key]?.id = id }
            case "finished":
                finished.insert(key)
            default:
                continue
            }
        }
        return order.filter { !finished.contains($0) }.compactMap { entries[$0] }
    }

    private func write(_ entry: [String: JSONValue]) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw ValidationError("--journal: cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let line = JSONWriter.bytes(.object(entry)) + [0x0A]
        let written = line.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else {
            throw ValidationError("--journal: cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
