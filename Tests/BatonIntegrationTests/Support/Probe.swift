import BatonClient
import BatonWire
import BatonWorker
import Foundation
import Logging

/// In-process workers (the real BatonWorker SDK over real sockets) whose handlers record
/// what the worker side saw: which jobs ran, when, and how many ran at once per block.
final class Probe: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var started: [(jobId: String, at: Date)] = []
    private(set) var finished: [(jobId: String, at: Date)] = []
    private var current: [Int: Int] = [:]
    private(set) var maxConcurrent: [Int: Int] = [:]
    private var workers: [Worker] = []
    private var threads: [Thread] = []
    private let done = DispatchGroup()

    /// `probe` sleeps `ms` (default 30) while counting concurrency per block; `boom` fails.
    func handlers() -> [String: JobHandler] {
        [
            "probe": { [self] ctx in
                let block = Int(ctx.jobId.split(separator: ".")[1])!
                lock.withLock {
                    started.append((ctx.jobId, Date()))
                    current[block, default: 0] += 1
                    maxConcurrent[block] = max(maxConcurrent[block, default: 0], current[block]!)
                }
                Thread.sleep(forTimeInterval: Double(ctx.args["ms"]?.intValue ?? 30) / 1000)
                lock.withLock {
                    current[block]! -= 1
                    finished.append((ctx.jobId, Date()))
                }
                return ["ok": true]
            },
            "boom": { [self] ctx in
                lock.withLock { started.append((ctx.jobId, Date())) }
                throw JobFailure("boom on attempt \(ctx.attempt)")
            },
        ]
    }

    func start(count: Int, capacity: Int, endpoint: String) throws {
        for i in 0..<count {
            var logger = Logger(label: "probe-\(i)")
            logger.logLevel = .warning
            let w = try Worker(options: .init(endpoint: endpoint, name: "probe-\(i)", capacity: capacity),
                               handlers: handlers(), logger: logger)
            workers.append(w)
            done.enter()
            let t = Thread { [done] in
                try? w.run()
                done.leave()
            }
            t.start()
            threads.append(t)
        }
    }

    func stop() {
        for w in workers { w.requestStop() }
        _ = done.wait(timeout: .now() + 10)
        workers = []
    }

    var startedIds: [String] { lock.withLock { started.map(\.jobId) } }
    func snapshot() -> (started: [(jobId: String, at: Date)], finished: [(jobId: String, at: Date)], max: [Int: Int]) {
        lock.withLock { (started, finished, maxConcurrent) }
    }
}

extension BatonClient {
    /// Follows a workflow with WATCH until it is final; returns its STATUS.
    func waitFinal(_ id: String, timeout: TimeInterval = 60) throws -> WorkflowStatus {
        let deadline = Date().addingTimeInterval(timeout)
        var after: Int64 = 0
        while Date() < deadline {
            let page = try watch(id, after: after, waitMs: 500)
            if let last = page.events.last { after = last.seq }
            if page.events.isEmpty && page.state.isFinal { return try status(id) }
        }
        throw TestFailure("workflow \(id) not final within \(timeout) s: \(try status(id).state)")
    }
}
