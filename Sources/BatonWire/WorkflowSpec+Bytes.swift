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
        out.append(literal: #"{"blocks":["#)
        for (i, block) in blocks.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            block.writeJSON(into: &out)
        }
        out.append(UInt8(ascii: "]"))
        if let description { Self.member(#","description":"#, description, &out) }
        Self.member(#","name":"#, name, &out)
        out.append(UInt8(ascii: "}"))
    }

    /// `,"key":"value"`, `prefix` being `,"key":` whole (`WorkflowStatus.member` says why).
    fileprivate static func member(_ prefix: StaticString, _ value: String, _ out: inout [UInt8]) {
        out.append(literal: prefix)
        JSONWriter.writeString(value, into: &out)
    }
}

extension BlockSpec {
    func writeJSON(into out: inout [UInt8]) {
        out.append(literal: #"{"concurrency":"#)
        JSONWriter.writeInt(Int64(concurrency), into: &out)
        if let description { WorkflowSpec.member(#","description":"#, description, &out) }
        out.append(literal: #","jobs":["#)
        for (i, job) in jobs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            job.writeJSON(into: &out)
        }
        out.append(literal: "]}")
    }
}

extension JobSpec {
    func writeJSON(into out: inout [UInt8]) {
        out.append(literal: #"{"args":"#)
        out.append(contentsOf: argsText.bytes)
        if heartbeatTimeoutMs > 0 {
            out.append(literal: #","heartbeat_timeout_ms":"#)
            JSONWriter.writeInt(heartbeatTimeoutMs, into: &out)
        }
        if let name { WorkflowSpec.member(#","name":"#, name, &out) }
        out.append(literal: #","retry":{"backoff_ms":"#)
        JSONWriter.writeInt(retry.backoffMs, into: &out)
        out.append(literal: #","max_attempts":"#)
        JSONWriter.writeInt(Int64(retry.maxAttempts), into: &out)
        out.append(literal: #"},"timeout_ms":"#)
        JSONWriter.writeInt(timeoutMs, into: &out)
        WorkflowSpec.member(#","type":"#, type, &out)
        out.append(UInt8(ascii: "}"))
    }
}
