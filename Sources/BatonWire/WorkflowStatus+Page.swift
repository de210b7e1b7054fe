/// STATUS paging (spec §4.3.3): a reply carries the jobs from `jobs_from` on, in spec
/// order, while their JSON adds up to at most `maxBytes`, and at least one job when any
/// is left. Every page keeps every workflow field and every block (with its state); a
/// block's `jobs` holds only the page's jobs of that block, so concatenating each
/// block's jobs over the pages gives the whole workflow.
extension WorkflowStatus {
    /// The jobs' JSON a STATUS page carries at most (one bigger job comes alone).
    public static let maxPageBytes = 256 * 1024

    /// One page of this status, and the `jobs_from` of the next page (nil on the last).
    public func page(from jobsFrom: Int, maxBytes: Int = maxPageBytes) -> (page: WorkflowStatus, next: Int?) {
        var page = self
        var index = 0  // of the job, over all blocks
        var bytes = 0
        var taken = 0
        var next: Int?
        for b in blocks.indices {
            var kept: [Job] = []
            for job in blocks[b].jobs {
                defer { index += 1 }
                guard index >= jobsFrom, next == nil else { continue }
                // Measured only up to the room left (a page's first job goes in whatever
                // its size): building a page costs about its budget, never a huge
                // output's full encoding.
                let size = JSONWriter.size(of: job.json, upTo: max(0, maxBytes - bytes))
                if taken > 0 && bytes + size > maxBytes {
                    next = index
                    continue
                }
                bytes += size
                taken += 1
                kept.append(job)
            }
            page.blocks[b].jobs = kept
        }
        return (page, next)
    }

    /// The STATUS reply body of one page: the page's JSON plus `jobs_next` when more follow.
    public func pageJSON(from jobsFrom: Int, maxBytes: Int = maxPageBytes) -> JSONValue {
        let (page, next) = page(from: jobsFrom, maxBytes: maxBytes)
        guard let next, case .object(var o) = page.json else { return page.json }
        o["jobs_next"] = .int(Int64(next))
        return .object(o)
    }

    /// Appends the next page's jobs to this status, block by block, and takes the workflow
    /// fields and block states from `next` (the later read). Pages of another workflow, or
    /// with another block count, are refused: they cannot be one workflow's pages.
    public mutating func append(page next: WorkflowStatus) -> Bool {
        guard next.id == id, next.blocks.count == blocks.count else { return false }
        let earlier = blocks
        self = next
        for b in blocks.indices { blocks[b].jobs = earlier[b].jobs + next.blocks[b].jobs }
        return true
    }
}
