import BatonClient
import Foundation

/// A few threads, each owning one blocking `BatonClient` (a ZeroMQ socket has one owner
/// thread and is not `Sendable`), that carry out broker calls for async callers. The
/// HTTP server's event loops never block on ZeroMQ: a handler awaits `call`, which queues
/// the work here and is resumed when a pool thread has the answer.
///
/// Invariants: at most `threads` calls are in flight at once (one per thread); at most
/// `queueLimit` more wait, and a call beyond that fails at once with `.busy` instead of
/// piling up behind a slow broker. After a call times out, calls for the next
/// `fastFailMs` fail at once with the same "broker unreachable" error, so a page does not
/// wait out every retry again while the broker is down; then one call tries again.
final class BrokerPool: @unchecked Sendable {
    typealias Work = @Sendable (BatonClient?, Error?) -> Void

    let name: String
    let endpoint: String
    private let make: @Sendable () throws -> BatonClient
    private let queueLimit: Int
    private let fastFailMs: Int64
    /// Guards `queue`, `stopped`, `downUntil` and `downError`; threads wait on it.
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var stopped = false
    private var downUntil: UInt64 = 0
    private var downError: WebError?

    init(name: String, endpoint: String, threads: Int, queueLimit: Int, fastFailMs: Int64 = 2000,
         make: @escaping @Sendable () throws -> BatonClient) {
        self.name = name
        self.endpoint = endpoint
        self.make = make
        self.queueLimit = queueLimit
        self.fastFailMs = fastFailMs
        for i in 0..<max(1, threads) {
            let t = Thread { [self] in self.serve() }
            t.name = "baton-web-\(name)-\(i)"
            t.start()
        }
    }

    /// Runs `body` with a pool thread's client and returns its result. Client errors
    /// become `WebError`s that name the broker.
    func call<T: Sendable>(_ body: @escaping @Sendable (BatonClient) throws -> T) async throws(WebError) -> T {
        let result: Result<T, WebError> = await withCheckedContinuation { continuation in
            let work: Work = { [endpoint] client, makeError in
                guard let client else {
                    let why = makeError.map { "\($0)" } ?? "no client"
                    return continuation.resume(returning: .failure(.brokerUnreachable(endpoint: endpoint, why)))
                }
                do {
                    continuation.resume(returning: .success(try body(client)))
                } catch let e as ClientError {
                    let web = WebError.from(e, endpoint: endpoint)
                    if case .brokerUnreachable = web { self.markDown(web) }
                    continuation.resume(returning: .failure(web))
                } catch let e as WebError {
                    continuation.resume(returning: .failure(e))
                } catch {
                    continuation.resume(returning: .failure(.badReply("\(error)")))
                }
            }
            if let refusal = enqueue(work) { continuation.resume(returning: .failure(refusal)) }
        }
        return try result.get()
    }

    /// Lets the threads finish their current call and end.
    func shutdown() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `work`, or says why not (down, full, stopped).
    private func enqueue(_ work: @escaping Work) -> WebError? {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return .busy("the dashboard is shutting down") }
        if let downError, DispatchTime.now().uptimeNanoseconds < downUntil {
            return downError
        }
        guard queue.count < queueLimit else {
            return .busy("\(queue.count) broker calls already wait (\(name)); try again shortly")
        }
        queue.append(work)
        condition.signal()
        return nil
    }

    private func markDown(_ error: WebError) {
        condition.lock()
        downError = error
        downUntil = DispatchTime.now().uptimeNanoseconds + UInt64(fastFailMs) * 1_000_000
        condition.unlock()
    }

    /// A pool thread: owns one client for its whole life, made lazily and made again
    /// after a failure to make it.
    private func serve() {
        var client: BatonClient?
        while let work = next() {
            var makeError: Error?
            if client == nil {
                do { client = try make() } catch { makeError = error }
            }
            work(client, makeError)
        }
        client?.close()
    }

    private func next() -> Work? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !stopped { condition.wait() }
        if stopped && queue.isEmpty { return nil }
        return queue.removeFirst()
    }
}
