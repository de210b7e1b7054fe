import BatonWire
import Foundation

/// The job types `baton worker` runs out of the box.
public enum BuiltinJobs {
    public static let names = ["echo", "sleep", "fail", "file.write", "append", "shell"]
    /// The types that write files: present only with a `FileRoot` to confine them to.
    public static let fileTypes = ["file.write", "append"]

    /// Handlers by type. `shell` is present only when `shellAllow` names commands: it
    /// runs arbitrary programs, so it is off unless the operator opts in. `file.write` and
    /// `append` are present only with a `fileRoot`: they write files a client names, so
    /// they are off unless the operator gives them a directory of their own.
    public static func handlers(shellAllow: [String], fileRoot: FileRoot? = nil) -> [String: JobHandler] {
        var h: [String: JobHandler] = ["echo": echo, "sleep": sleep, "fail": fail]
        if !shellAllow.isEmpty { h["shell"] = shell(allow: Set(shellAllow)) }
        if let fileRoot {
            h["file.write"] = fileWrite(root: fileRoot)
            h["append"] = append(root: fileRoot)
        }
        return h
    }

    /// Returns its args.
    public static let echo: JobHandler = { ctx in .object(ctx.args) }

    /// Sleeps `ms` milliseconds, waking early if cancelled. With a `heartbeat_timeout_ms`
    /// it reports PROGRESS (`{"slept_ms"}`) every third of it, like a long job should.
    public static let sleep: JobHandler = { ctx in
        guard let ms = ctx.args["ms"]?.intValue, ms >= 0 else { throw JobFailure("args.ms: required, a non-negative integer", retryable: false) }
        let start = Date()
        let deadline = start.addingTimeInterval(Double(ms) / 1000)
        let beatEvery = Double(ctx.heartbeatTimeoutMs) / 3000
        var nextBeat = start.addingTimeInterval(beatEvery)
        while Date() < deadline {
            if ctx.isCancelled { throw JobFailure("cancelled") }
            if beatEvery > 0 && Date() >= nextBeat {
                ctx.progress(["slept_ms": .int(Int64(Date().timeIntervalSince(start) * 1000))])
                nextBeat = Date().addingTimeInterval(beatEvery)
            }
            Thread.sleep(forTimeInterval: min(0.01, max(0, deadline.timeIntervalSinceNow)))
        }
        return ["slept_ms": .int(ms)]
    }

    /// Always fails, with `message`; `retryable: false` asks for no retry.
    public static let fail: JobHandler = { ctx in
        throw JobFailure(ctx.args["message"]?.stringValue ?? "failed on purpose",
                         retryable: ctx.args["retryable"]?.boolValue ?? true)
    }

    /// The lesson's idempotent write: writes `content` to `path` (relative to `root`)
    /// only when the file's sha256 differs, so a second run changes nothing and reports
    /// `changed: false`. The write goes to a temporary file renamed over the target, so
    /// a crash never leaves a half-written file. Directories are not created.
    public static func fileWrite(root: FileRoot) -> JobHandler {
        { ctx in
            let path = try pathArg(ctx.args)
            guard let content = ctx.args["content"]?.stringValue else {
                throw JobFailure("args.content: required, a string", retryable: false)
            }
            let bytes = Array(content.utf8)
            let wanted = SHA256.hex(bytes)
            let changed = try confined(path) { () throws(FileRootError) -> Bool in
                let file = try root.file(path)
                if let existing = try file.contents(), SHA256.hex(existing) == wanted { return false }
                try file.replace(with: bytes)
                return true
            }
            return ["path": .string(path), "changed": .bool(changed), "sha256": .string(wanted)]
        }
    }

    /// Appends one JSON line per execution to `path` (relative to `root`): `{"job_id",
    /// "attempt", "at_ms", "worker_pid", "line"?}`. Deliberately NOT idempotent: it is a
    /// drill instrument that counts deliveries (the chaos test uses it to prove
    /// at-least-once and to find any re-run after success). One `write` with O_APPEND, so
    /// lines from several worker processes never interleave.
    public static func append(root: FileRoot) -> JobHandler {
        { ctx in
            let path = try pathArg(ctx.args)
            var entry: [String: JSONValue] = [
                "job_id": .string(ctx.jobId), "attempt": .int(Int64(ctx.attempt)),
                "at_ms": .int(Int64(Date().timeIntervalSince1970 * 1000)), "worker_pid": .int(Int64(getpid())),
            ]
            if let line = ctx.args["line"] { entry["line"] = line }
            let bytes = JSONWriter.bytes(.object(entry)) + [0x0A]
            try confined(path) { () throws(FileRootError) in try root.file(path).append(bytes) }
            if let ms = ctx.args["ms"]?.intValue, ms > 0 { Thread.sleep(forTimeInterval: Double(ms) / 1000) }
            return ["appended": true]
        }
    }

    private static func pathArg(_ args: [String: JSONValue]) throws -> String {
        guard let path = args["path"]?.stringValue else {
            throw JobFailure("args.path: required, a string relative to the worker's --file-root", retryable: false)
        }
        return path
    }

    /// Runs a file operation, failing the job with a message that names the path (quoted
    /// and escaped: it may hold anything) and the rule it broke.
    private static func confined<T>(_ path: String, _ operation: () throws(FileRootError) -> T) throws -> T {
        do {
            return try operation()
        } catch {
            throw JobFailure("args.path \(String(reflecting: path)): \(error)", retryable: error.isRetryable)
        }
    }

    /// Runs `argv` (no shell interpretation) when `argv[0]` is allowed; fails on a
    /// non-zero exit or a signal. Output: `exit_code`, `stdout` and `stderr` (each cut to
    /// its first MiB, read to the end all the same) and `stdout_truncated` /
    /// `stderr_truncated`, true when a stream was cut. The child runs in a process group
    /// of its own, killed as a whole when the job is cancelled, when the worker gives the
    /// attempt up, or when `timeout_ms` passes (see `ShellCommand`).
    public static func shell(allow: Set<String>) -> JobHandler {
        { ctx in
            let argv = try allowedArgv(ctx.args, allow: allow)
            let program = argv[0]
            // With a heartbeat_timeout_ms, PROGRESS every third of it while the program runs.
            let run = ShellCommand(argv: argv).run(cancellation: ctx.cancellation, timeoutMs: ctx.timeoutMs,
                                                   beatEveryMs: ctx.heartbeatTimeoutMs / 3) { ms in
                ctx.progress(["running_ms": .int(ms)])
            }
            switch run {
            case .cancelled:
                throw JobFailure("cancelled; \(program) and its process group were killed")
            case .timedOut:
                throw JobFailure("timed out after \(ctx.timeoutMs) ms; \(program) and its process group were killed")
            case .failedToRun(let reason):
                throw JobFailure("cannot run \(program): \(reason)")
            case .finished(let outcome):
                return try shellOutput(program, outcome)
            }
        }
    }

    private static func allowedArgv(_ args: [String: JSONValue], allow: Set<String>) throws -> [String] {
        guard let values = args["argv"]?.arrayValue, case let argv = values.compactMap(\.stringValue),
              let program = argv.first, argv.count == values.count
        else { throw JobFailure("args.argv: required, a non-empty array of strings", retryable: false) }
        guard allow.contains(program) else {
            throw JobFailure("args.argv[0]: \"\(program)\" is not in this worker's --shell-allow list", retryable: false)
        }
        return argv
    }

    private static func shellOutput(_ program: String, _ outcome: ShellCommand.Outcome) throws -> JSONValue {
        switch outcome.status {
        case .exited(0):
            return [
                "exit_code": 0, "stdout": .string(outcome.stdout.text), "stderr": .string(outcome.stderr.text),
                "stdout_truncated": .bool(outcome.stdout.truncated), "stderr_truncated": .bool(outcome.stderr.truncated),
            ]
        case .exited(let code):
            throw JobFailure("\(program) exited with \(code): \(outcome.stderr.text.prefix(500))")
        case .signaled(let signal):
            throw JobFailure("\(program) was killed by signal \(signal): \(outcome.stderr.text.prefix(500))")
        }
    }
}
