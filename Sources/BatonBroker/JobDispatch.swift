import BatonStore
import BatonWire

/// A JOB as a dispatch makes it: the job by its parts and its spec. The committer writes
/// it to bytes after the commit (`bytes`, the same bytes as `body.bytes`), with the job's
/// id written from its parts: a `JobBody` needs the id as a String, made on the event
/// loop for each dispatch (~900 instructions) only to be written out and freed.
public struct JobDispatch: Sendable {
    public var workflowId: String
    public var block: Int
    public var job: Int
    public var attempt: Int
    public var spec: JobSpec

    public init(workflowId: String, block: Int, job: Int, attempt: Int, spec: JobSpec) {
        self.workflowId = workflowId
        self.block = block
        self.job = job
        self.attempt = attempt
        self.spec = spec
    }

    /// The JOB as a typed body (tests, logs).
    public var body: JobBody {
        JobBody(jobId: WorkflowRecord.jobId(workflowId, block: block, job: job), workflowId: workflowId, attempt: attempt,
                type: spec.type, args: spec.args, timeoutMs: spec.timeoutMs, heartbeatTimeoutMs: spec.heartbeatTimeoutMs)
    }

    /// The JOB body's bytes, as `body.bytes` writes them.
    public var bytes: [UInt8] {
        JobBody.bytes(args: spec.argsText, attempt: attempt, heartbeatTimeoutMs: spec.heartbeatTimeoutMs,
                      jobId: .parts(workflowId: workflowId, block: block, job: job), timeoutMs: spec.timeoutMs,
                      type: spec.type, workflowId: workflowId)
    }
}
