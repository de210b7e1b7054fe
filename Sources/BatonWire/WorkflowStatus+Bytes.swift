/// STATUS written straight to bytes.
///
/// `pageBytes` gives exactly the bytes of `JSONWriter.bytes(pageJSON(from:maxBytes:))`
/// (keys in the writer's order, the same paging), without what that costs: a
/// `JSONValue` tree of the whole status, a size walk over each job, and the tree written
/// out again. Every EXEC answers with a STATUS, so on a one-job workflow the tree was a
/// twentieth of the broker's instructions. The keys below are written in `String` order
/// by hand; `WorkflowStatusBytesTests` checks the bytes against the tree's.
extension WorkflowStatus {
    public func pageBytes(from jobsFrom: Int, maxBytes: Int = maxPageBytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + 256 * min(jobCount, 64))
        out.append(contentsOf: #"{"blocks":["#.utf8)
        var index = 0  // of the job, over all blocks
        var bytes = 0  // of the jobs' JSON on this page, as `page(from:maxBytes:)` counts
        var taken = 0
        var next: Int?
        for (b, block) in blocks.enumerated() {
            if b > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"jobs":["#.utf8)
            var firstInBlock = true
            for job in block.jobs {
                defer { index += 1 }
                guard index >= jobsFrom, next == nil else { continue }
                let mark = out.count
                if !firstInBlock { out.append(UInt8(ascii: ",")) }
                let start = out.count
                job.writeJSON(into: &out)
                let size = out.count - start
                // A page's first job goes in whatever its size; after it, a job that does
                // not fit starts the next page.
                if taken > 0 && bytes + size > maxBytes {
                    out.removeSubrange(mark...)
                    next = index
                    continue
                }
                bytes += size
                taken += 1
                firstInBlock = false
            }
            out.append(contentsOf: #"],"state":"#.utf8)
            JSONWriter.writeString(block.state.rawValue, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let finishedAt { Self.member("finished_at", Timestamp.format(ms: finishedAt), &out) }
        Self.member("id", id, &out)
        if let next {
            out.append(contentsOf: #","jobs_next":"#.utf8)
            JSONWriter.writeInt(Int64(next), into: &out)
        }
        Self.member("name", name, &out)
        if let owner { Self.member("owner", owner, &out) }
        if let reason { Self.member("reason", reason, &out) }
        if let startedAt { Self.member("started_at", Timestamp.format(ms: startedAt), &out) }
        Self.member("state", state.rawValue, &out)
        Self.member("submitted_at", Timestamp.format(ms: submittedAt), &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `,"key":"value"` (the key needs no escaping).
    fileprivate static func member(_ key: StaticString, _ value: String, _ out: inout [UInt8]) {
        out.append(contentsOf: #",""#.utf8)
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.append(contentsOf: #"":"#.utf8)
        JSONWriter.writeString(value, into: &out)
    }
}

extension WorkflowStatus.Job {
    /// This job's `json`, written straight to bytes, keys in `String` order.
    func writeJSON(into out: inout [UInt8]) {
        out.append(contentsOf: #"{"attempt":"#.utf8)
        JSONWriter.writeInt(Int64(attempt), into: &out)
        if let error { WorkflowStatus.member("error", error, &out) }
        if let finishedAt { WorkflowStatus.member("finished_at", Timestamp.format(ms: finishedAt), &out) }
        WorkflowStatus.member("job_id", jobId, &out)
        if let name { WorkflowStatus.member("name", name, &out) }
        if let output {
            out.append(contentsOf: #","output":"#.utf8)
            JSONWriter.write(output, into: &out)
        }
        if let progress {
            out.append(contentsOf: #","progress":"#.utf8)
            JSONWriter.write(progress, into: &out)
        }
        if let progressAt { WorkflowStatus.member("progress_at", Timestamp.format(ms: progressAt), &out) }
        if let startedAt { WorkflowStatus.member("started_at", Timestamp.format(ms: startedAt), &out) }
        WorkflowStatus.member("state", state.rawValue, &out)
        WorkflowStatus.member("type", type, &out)
        if let waitingFor { WorkflowStatus.member("waiting_for", waitingFor, &out) }
        out.append(UInt8(ascii: "}"))
    }
}
