import Dispatch
import Foundation
import Subprocess
import Synchronization

/// One run of the `shell` job: a program in a session (and so a process group) of its
/// own, both output streams drained at once, and the whole group torn down when the job
/// is cancelled or its timeout passes.
///
/// Failure modes this type exists for (the `Process`-based job before it had each one):
/// - A child filling the stderr pipe (64 KiB on Linux) while the parent read stdout to EOF
///   hung both; here the two streams are read by two concurrent tasks.
/// - A cancelled job left its child, its grandchildren and a pool thread behind; here a
///   cancel or the timeout sends SIGTERM to the group, SIGKILL after `grace`, and the
///   pool thread returns once the leader has exited.
/// - Output was unbounded in memory until cut; here at most `keepBytes` per stream are
///   kept and the rest is read and counted, so the child never blocks on a full pipe.
struct ShellCommand: Sendable {
    /// The outcome of a run that was not cancelled or timed out.
    struct Outcome: Sendable {
        var status: TerminationStatus
        var stdout: Captured
        var stderr: Captured
    }

    /// A stream's first `keepBytes` bytes, and how many it carried in all.
    struct Captured: Sendable {
        var kept: [UInt8] = []
        var totalBytes = 0
        var truncated: Bool { totalBytes > kept.count }
        var text: String { String(decoding: kept, as: UTF8.self) }
    }

    /// How a run ended, seen from the job.
    enum Ending: Sendable {
        case finished(Outcome)
        case cancelled
        case timedOut
        case failedToRun(String)
    }

    var argv: [String]
    var keepBytes = 1 << 20
    /// Between SIGTERM and SIGKILL to the group.
    var grace: Duration = .milliseconds(500)

    /// Runs the command to its end on the calling thread, which it blocks.
    ///
    /// The bridge from this synchronous handler to swift-subprocess's async API: the run
    /// is an unstructured `Task` on the global executor, and this thread waits on a
    /// semaphore the task signals. Blocking here is safe because job handlers run on
    /// `JobPool`'s own threads, never on the concurrency pool's, which the task needs.
    /// Cancellation reaches the task through `cancellation.whenFired { task.cancel() }`
    /// (no polling); a cancelled run makes swift-subprocess play `teardownSequence`,
    /// which ends the leader, and the run returns once the leader has exited. Whatever
    /// is left in the group afterwards (a grandchild that ignored SIGTERM, a background
    /// job of a leader that exited on its own) gets SIGKILL: a job leaves nothing behind.
    ///
    /// With `beatEveryMs` > 0, `beat` is called that often (with the milliseconds run so
    /// far) while the program runs: the job's PROGRESS for its `heartbeat_timeout_ms`.
    func run(cancellation: CancellationFlag, timeoutMs: Int64, beatEveryMs: Int64 = 0,
             beat: (Int64) -> Void = { _ in }) -> Ending {
        let finished = DispatchSemaphore(value: 0)
        let ending = EndingBox()
        let task = Task { [self] in
            ending.set(await execute())
            finished.signal()
        }
        cancellation.whenFired { task.cancel() }
        let started = DispatchTime.now()
        let deadline = timeoutMs > 0 ? started + .milliseconds(Int(clamping: timeoutMs)) : DispatchTime.distantFuture
        while true {
            let nextBeat = beatEveryMs > 0 ? DispatchTime.now() + .milliseconds(Int(clamping: beatEveryMs)) : .distantFuture
            if finished.wait(timeout: min(deadline, nextBeat)) == .success { break }
            if DispatchTime.now() >= deadline {
                ending.markTimedOut()
                task.cancel()
                finished.wait()
                break
            }
            beat(Int64((DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000))
        }
        if cancellation.isSet { return .cancelled }
        return ending.value
    }

    private func execute() async -> Ending {
        var options = PlatformOptions()
        // A new session makes the child the leader of a new process group whose id is its
        // pid, so a signal to the group reaches every process it started and never the
        // worker itself (the teardown documentation's warning).
        options.createSession = true
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: grace)]
        var group: pid_t = 0
        defer { if group > 0 { Self.killGroupLeftovers(group) } }
        do {
            // `env` finds argv[0] on PATH and execs it in place (same pid, so still the
            // group's leader), as the Process-based job did.
            let result = try await Subprocess.run(
                .path("/usr/bin/env"), arguments: Arguments(argv), platformOptions: options,
                input: .none, output: .sequence, error: .sequence
            ) { execution in
                group = execution.processIdentifier.value
                async let stdout = Self.capture(execution.standardOutput, keep: keepBytes)
                async let stderr = Self.capture(execution.standardError, keep: keepBytes)
                return try await (stdout, stderr)
            }
            let (stdout, stderr) = result.closureResult
            return .finished(Outcome(status: result.terminationStatus, stdout: stdout, stderr: stderr))
        } catch {
            if Task.isCancelled { return .cancelled }
            return .failedToRun("\(error)")
        }
    }

    /// Reads the whole stream, keeping its first `keep` bytes.
    private static func capture(_ stream: SubprocessOutputSequence, keep: Int) async throws -> Captured {
        var captured = Captured()
        for try await chunk in stream {
            captured.totalBytes += chunk.count
            let room = keep - captured.kept.count
            if room > 0 { chunk.withUnsafeBytes { captured.kept.append(contentsOf: $0.prefix(room)) } }
        }
        return captured
    }

    /// SIGKILL to what is left of the group once its leader is reaped. ESRCH (the group is
    /// empty, the usual case) is the expected answer. Linux does not hand out a pid that is
    /// still a process group's id, so a live group is ours; only an empty group's number
    /// can be reused, and then by a process that would itself have to become a group
    /// leader in the instant between the reap and this call.
    private static func killGroupLeftovers(_ group: pid_t) {
        _ = kill(-group, SIGKILL)
    }
}

/// The run's ending, handed from the task to the waiting thread; `timedOut` is set by the
/// waiting thread first, so a run that ends in teardown reports the timeout, not a signal.
private final class EndingBox: Sendable {
    private let state = Mutex<(ending: ShellCommand.Ending, timedOut: Bool)>((.cancelled, false))

    func set(_ ending: ShellCommand.Ending) { state.withLock { $0.ending = ending } }
    func markTimedOut() { state.withLock { $0.timedOut = true } }
    var value: ShellCommand.Ending { state.withLock { $0.timedOut ? .timedOut : $0.ending } }
}
