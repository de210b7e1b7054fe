/// A job's id (`<workflowId>.<block>.<job>`, spec §3) as a writer takes it: a String,
/// or its parts, written as `JSONWriter.writeJobId` writes them. The broker holds a job
/// as its parts; making the id a String for each JOB and each job on a STATUS page (a
/// heap allocation, its formatting, its release) cost ~900 instructions each time in
/// `scripts/profile`.
public enum JobIdText: Sendable {
    case string(String)
    case parts(workflowId: String, block: Int, job: Int)

    /// The id as a JSON string.
    public func write(into out: inout [UInt8]) {
        switch self {
        case .string(let id): JSONWriter.writeString(id, into: &out)
        case .parts(let workflowId, let block, let job): JSONWriter.writeJobId(workflowId, block: block, job: job, into: &out)
        }
    }
}
