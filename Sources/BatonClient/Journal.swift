import BatonWire
import Foundation

/// The client's journal (spec §10.1): an append-only file of JSON lines, each fsynced
/// before the step it records goes on, so that after a crash `resume` finds every
/// workflow `run` started.
///
/// Lines: `{"step": "submitting"|"submitted"|"exec"|"seen"|"finished", "key", "file", "id"?,
/// "spec"? (on "submitting"), "seq"? (on "seen"), "state"? (on "finished"), "at"}`,
/// compact with sorted keys.
/// The Python SDK (`Protocol/python/baton/journal.py`) writes the same bytes, and each
/// reads the other's journals. Entries are grouped by idempotency key. A torn last line
/// (a crash mid-write) is skipped on read.
public struct Journal: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// One workflow started through the handshake.
    public struct Entry: Equatable, Sendable {
        public var key: String
        /// Where the spec came from (a file name), for messages only.
        public var file: String
        public var spec: WorkflowSpec
        /// The broker's id, once SUBMIT returned it.
        public var id: String?
        /// The last event `seq` a follower of this workflow journaled (`seen`); 0: none.
        public var seenSeq: Int64

        public init(key: String, file: String, spec: WorkflowSpec, id: String? = nil, seenSeq: Int64 = 0) {
            self.key = key
            self.file = file
            self.spec = spec
            self.id = id
            self.seenSeq = seenSeq
        }
    }

    /// The handshake steps a line records.
    public enum Step: String, Sendable {
        /// Written before SUBMIT; carries the spec.
        case submitting
        /// SUBMIT returned the id.
        case submitted
        /// EXEC started the workflow.
        case exec
        /// The workflow was seen final; carries its state.
        case finished
        /// While following: the last event `seq` seen (`seq`), so a resume need not
        /// replay every event. Readers that do not know it skip it.
        case seen
    }

    /// Appends one line and fsyncs it: when this returns, the step survives a crash.
    public func append(_ e: Entry, step: Step, state: WorkflowState? = nil) throws(JournalError) {
        var line: [String: JSONValue] = [
            "step": .string(step.rawValue), "key": .string(e.key), "file": .string(e.file),
            "at": .string(Timestamp.format(ms: Int64(Date().timeIntervalSince1970 * 1000))),
        ]
        if let id = e.id { line["id"] = .string(id) }
        if step == .submitting { line["spec"] = e.spec.json }
        if let state { line["state"] = .string(state.rawValue) }
        if step == .seen { line["seq"] = .int(e.seenSeq) }
        try write(JSONWriter.bytes(.object(line)) + [0x0A])
    }

    /// Entries whose last step is not "finished", in the order they were started, each
    /// with the last id journaled. A missing or unreadable journal holds none.
    public func unfinished() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var order: [String] = []
        var entries: [String: Entry] = [:]
        var finished: Set<String> = []
        for raw in data.split(separator: 0x0A) {
            // A line that does not parse is a torn write: the step it recorded never completed.
            guard let line = try? JSONParser.parse(Array(raw)), let key = line["key"]?.stringValue else { continue }
            switch line["step"]?.stringValue.flatMap(Step.init(rawValue:)) {
            case .submitting:
                guard let specJSON = line["spec"], let spec = try? WorkflowSpec.parse(specJSON) else { continue }
                if entries[key] == nil { order.append(key) }
                entries[key] = Entry(key: key, file: line["file"]?.stringValue ?? "?", spec: spec, id: entries[key]?.id)
                finished.remove(key)
            case .submitted, .exec:
                if let id = line["id"]?.stringValue { entries[key]?.id = id }
            case .seen:
                if let seq = line["seq"]?.intValue, seq > (entries[key]?.seenSeq ?? 0) { entries[key]?.seenSeq = seq }
            case .finished:
                finished.insert(key)
            case nil:
                continue
            }
        }
        return order.filter { !finished.contains($0) }.compactMap { entries[$0] }
    }

    private func write(_ line: [UInt8]) throws(JournalError) {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw .cannotCreateDirectory(dir, reason: "\(error.localizedDescription)")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path, errno: errno) }
        defer { close(fd) }
        // After a crash mid-write the file ends in a torn line. Appended to it, this line
        // would be torn too, and skipped: a new entry's "submitting" line lost that way
        // would hide every later line of that entry. Ending the torn line first keeps
        // the loss to the step that was being written.
        let bytes: [UInt8] = (endsTorn(fd) ? [0x0A] : []) + line
        var rest = bytes[...]
        while !rest.isEmpty {
            let n = rest.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .cannotWrite(path, errno: errno) }
            rest = rest.dropFirst(n)
        }
        guard fsync(fd) == 0 else { throw .cannotWrite(path, errno: errno) }
    }
}

/// Whether the file is not empty and its last byte is not a newline.
private func endsTorn(_ fd: Int32) -> Bool {
    let size = lseek(fd, 0, SEEK_END)
    guard size > 0 else { return false }
    var last: UInt8 = 0
    return pread(fd, &last, 1, size - 1) == 1 && last != 0x0A
}

/// Why the journal could not record a step. The step it was to record has not been
/// taken: the handshake stops before it.
public enum JournalError: Error, Equatable, CustomStringConvertible {
    /// The journal's directory does not exist and could not be made.
    case cannotCreateDirectory(String, reason: String)
    /// open(2) failed.
    case cannotOpen(String, errno: Int32)
    /// write(2) or fsync(2) failed: the line may be torn, and is then skipped on read.
    case cannotWrite(String, errno: Int32)

    public var description: String {
        switch self {
        case .cannotCreateDirectory(let dir, let reason): "cannot create \(dir): \(reason)"
        case .cannotOpen(let path, let code): "cannot open \(path): \(String(cString: strerror(code)))"
        case .cannotWrite(let path, let code): "cannot write \(path): \(String(cString: strerror(code)))"
        }
    }
}
