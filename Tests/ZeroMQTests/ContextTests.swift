import Foundation
import Synchronization
import XCTest
import ZeroMQ

/// `Context` is `@unchecked Sendable` on libzmq's word that a context is thread-safe
/// (zmq_ctx_new(3): "A ØMQ context is thread safe and may be shared among as many
/// application threads as necessary"). This drives one context from several threads at
/// once, each opening, using and closing its own sockets, as the broker, its tests and
/// the SDKs do.
final class ContextTests: XCTestCase {
    func testOneContextServesSocketsOpenedOnManyThreadsAtOnce() throws {
        let context = try Context()
        let threads = 8, rounds = 20
        let failures = Failures()
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for r in 0..<rounds {
                        let endpoint = "inproc://ctx-\(t)-\(r)"
                        let a = try context.socket(.pair)
                        let b = try context.socket(.pair)
                        try a.setReceiveTimeout(5000)
                        try b.setReceiveTimeout(5000)
                        try a.bind(endpoint)
                        try b.connect(endpoint)
                        _ = try b.send([Array("\(t).\(r)".utf8)])
                        if try a.receive() != [Array("\(t).\(r)".utf8)] { failures.add("thread \(t) round \(r): wrong message") }
                        a.close(linger: 0)
                        b.close(linger: 0)
                    }
                } catch {
                    failures.add("thread \(t): \(error)")
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success, "threads finished")
        XCTAssertEqual(failures.all, [])
    }
}

private final class Failures: Sendable {
    private let list = Mutex<[String]>([])
    func add(_ s: String) { list.withLock { $0.append(s) } }
    var all: [String] { list.withLock { $0 } }
}
