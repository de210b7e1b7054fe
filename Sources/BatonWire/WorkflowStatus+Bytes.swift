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
        Self.pageBytes(summary, blocks: blocks.count, blockState: { blocks[$0].state }, jobCount: { blocks[$0].jobs.count },
                       from: jobsFrom, maxBytes: maxBytes) { b, j, out in blocks[b].jobs[j].writeJSON(into: &out) }
    }

    /// `pageBytes` of the status with `head`'s fields (a LIST row's: all but the blocks)
    /// and `blocks` blocks, block b in state `blockState(b)` holding `jobCount(b)` jobs,
    /// job (b, j) written by `writeJob` (its `Job.writeJSON` bytes) only when the page
    /// holds it: a page is a window of the jobs, so a status need not be built whole
    /// first (a stored 10,000-job workflow's first page holds about a tenth of them).
    public static func pageBytes(_ head: WorkflowSummary, blocks: Int, blockState: (Int) -> BlockState,
                                 jobCount: (Int) -> Int, from jobsFrom: Int, maxBytes: Int = maxPageBytes,
                                 writeJob: (Int, Int, inout [UInt8]) -> Void) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(320 + 256 * min(blocks == 1 ? jobCount(0) : 64, 64))
        out.append(literal: #"{"blocks":["#)
        var index = 0  // of the job, over all blocks
        var bytes = 0  // of the jobs' JSON on this page, as `page(from:maxBytes:)` counts
        var taken = 0
        var next: Int?
        for b in 0..<blocks {
            if b > 0 { out.append(UInt8(ascii: ",")) }
            out.append(literal: #"{"jobs":["#)
            var firstInBlock = true
            for j in 0..<jobCount(b) {
                defer { index += 1 }
                guard index >= jobsFrom, next == nil else { continue }
                let mark = out.count
                if !firstInBlock { out.append(UInt8(ascii: ",")) }
                let start = out.count
                writeJob(b, j, &out)
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
            out.append(literal: #"],"state":"#)
            JSONWriter.writeString(blockState(b).rawValue, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let finishedAt = head.finishedAt { Self.timeMember(#","finished_at":"#, finishedAt, &out) }
        Self.member(#","id":"#, head.id, &out)
        if let next {
            out.append(literal: #","jobs_next":"#)
            JSONWriter.writeInt(Int64(next), into: &out)
        }
        Self.member(#","name":"#, head.name, &out)
        if let owner = head.owner { Self.member(#","owner":"#, owner, &out) }
        if let reason = head.reason { Self.member(#","reason":"#, reason, &out) }
        if let startedAt = head.startedAt { Self.timeMember(#","started_at":"#, startedAt, &out) }
        Self.member(#","state":"#, head.state.rawValue, &out)
        Self.timeMember(#","submitted_at":"#, head.submittedAt, &out)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// `,"key":"value"`, `prefix` being the member's `,"key":` whole (a key that needs
    /// no escaping): one literal appended at once, where the prefix made byte by byte
    /// around the key was five appends, ~190 instructions a member in `scripts/profile`
    /// (some 25 members per one-job workflow: its EXEC page, LIST rows, stored spec).
    static func member(_ prefix: StaticString, _ value: String, _ out: inout [UInt8]) {
        out.append(literal: prefix)
        JSONWriter.writeString(value, into: &out)
    }

    /// `,"key":"timestamp"` for the instant `ms` (`prefix` as for `member`).
    static func timeMember(_ prefix: StaticString, _ ms: Int64, _ out: inout [UInt8]) {
        out.append(literal: prefix)
        Timestamp.writeJSON(ms: ms, into: &out)
    }
}

extension WorkflowStatus.Job {
    /// This job's `json`, written straight to bytes, keys in `String` order.
    func writeJSON(into out: inout [UInt8]) {
        Self.writeJSON(attempt: attempt, error: error, finishedAt: finishedAt, jobId: .string(jobId), name: name,
                       outputText: outputText, progress: progress, progressAt: progressAt, startedAt: startedAt,
                       state: state, type: type, waitingFor: waitingFor, into: &out)
    }

    /// The bytes of a job with these members, as `json` writes them, keys in `String`
    /// order: for a page written from the broker's record (`WorkflowRecord.statusPageBytes`)
    /// without a `Job` made per job (its id String made, its strings retained, then
    /// released: about half of a page's cost per job in `scripts/profile`).
    public static func writeJSON(attempt: Int, error: String?, finishedAt: Int64?, jobId: JobIdText, name: String?,
                                 outputText: JSONText?, progress: JSONValue?, progressAt: Int64?, startedAt: Int64?,
                                 state: JobState, type: String, waitingFor: String?, into out: inout [UInt8]) {
        out.append(literal: #"{"attempt":"#)
        JSONWriter.writeInt(Int64(attempt), into: &out)
        if let error { WorkflowStatus.member(#","error":"#, error, &out) }
        if let finishedAt { WorkflowStatus.timeMember(#","finished_at":"#, finishedAt, &out) }
        out.append(literal: #","job_id":"#)
        jobId.write(into: &out)
        if let name { WorkflowStatus.member(#","name":"#, name, &out) }
        if let outputText {
            out.append(literal: #","output":"#)
            out.append(contentsOf: outputText.bytes)
        }
        if let progress {
            out.append(literal: #","progress":"#)
            JSONWriter.write(progress, into: &out)
        }
        if let progressAt { WorkflowStatus.timeMember(#","progress_at":"#, progressAt, &out) }
        if let startedAt { WorkflowStatus.timeMember(#","started_at":"#, startedAt, &out) }
        WorkflowStatus.member(#","state":"#, state.rawValue, &out)
        WorkflowStatus.member(#","type":"#, type, &out)
        if let waitingFor { WorkflowStatus.member(#","waiting_for":"#, waitingFor, &out) }
        out.append(UInt8(ascii: "}"))
    }
}
