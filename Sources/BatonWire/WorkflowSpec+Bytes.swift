/// The spec's canonical JSON written straight to bytes.
///
/// `writeJSON` gives exactly `JSONWriter.bytes(json)` (keys in the writer's `String`
/// order, defaults filled in, `heartbeat_timeout_ms` only when set) without building the
/// `JSONValue` tree first: a dictionary per job and per retry policy, each hashed on
/// insert and its keys sorted again on writing. The store writes every submitted spec,
/// so the tree was about 20,000 instructions of the committer's work per one-job
/// workflow. `WorkflowSpecBytesTests` checks the bytes against the tree's.
extension WorkflowSpec {
    public func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"blocks":["#.utf8)
        for (i, block) in blocks.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            block.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        if let description { Self.member("description", description, &out) }
        Self.member("name", name, &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `,"key":"value"` (the key needs no escaping).
    fileprivate static func member(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.append(contentsOf: #"":"#.utf8)
        JSONWriter.writeString(value, into: &out)
    }
}

extension BlockSpec {
    func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"concurrency":"#.utf8)
        JSONWriter.writeInt(Int64(concurrency), into: &out)
        if let description { WorkflowSpec.member("description", description, &out) }
        out.append(contentsOf: #","jobs":["#.utf8)
        for (i, job) in jobs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            job.writeJSON(into: &out)
        }
        out.append(contentsOf: "]}".utf8)
    }
}

extension JobSpec {
    func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"args":"#.utf8)
        JSONWriter.writeObject(args, into: &out)
        if heartbeatTimeoutMs > 0 {
            out.append(contentsOf: #","heartbeat_timeout_ms":"#.utf8)
            JSONWriter.writeInt(heartbeatTimeoutMs, into: &out)
        }
        if let name { WorkflowSpec.member("name", name, &out) }
        out.append(contentsOf: #","retry":{"backoff_ms":"#.utf8)
        JSONWriter.writeInt(retry.backoffMs, into: &out)
        out.append(contentsOf: #","max_attempts":"#.utf8)
        JSONWriter.writeInt(Int64(retry.maxAttempts), into: &out)
        out.append(contentsOf: #"},"timeout_ms":"#.utf8)
        JSONWriter.writeInt(timeoutMs, into: &out)
        WorkflowSpec.member("type", type, &out)
        out.append(UInt8(ascii: "}"))
    }
}
