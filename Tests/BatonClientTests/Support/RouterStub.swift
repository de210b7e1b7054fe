import BatonClient
import BatonWire
import Foundation
import XCTest
import ZeroMQ

/// A real ROUTER socket on 127.0.0.1 that plays the broker, one request at a time, from
/// the test's own thread: the test decides for each request whether to drop it, answer
/// it, or answer it with a wrong tag.
final class RouterStub {
    struct Request {
        /// The routing id of the client socket it came from: a fresh socket has a new one.
        var peer: [UInt8]
        var request: ClientFrames.Request
        var command: ClientCommand { request.command }
        var tag: [UInt8] { request.tag }
        var body: [String: JSONValue] { request.body }
    }

    let endpoint: String
    private let context: Context
    private let socket: Socket

    init() throws {
        context = try Context()
        socket = try context.socket(.router)
        try socket.setLinger(0)
        try socket.bind("tcp://127.0.0.1:*")
        endpoint = try socket.lastEndpoint
    }

    func close() {
        socket.close(linger: 0)
    }

    /// The next request, or nil when none came within `timeoutMs` (a bound against hangs).
    func receive(timeoutMs: Int = 10_000) throws -> Request? {
        var poller = try Poller([.socket(socket)])
        guard try poller.poll(timeoutMs: timeoutMs)[0], let frames = try socket.receive(dontWait: true) else { return nil }
        guard let peer = frames.first else { XCTFail("a ROUTER message without routing id"); return nil }
        return Request(peer: peer, request: try ClientFrames.decodeRequest(frames.dropFirst()))
    }

    /// Answers `request`, with its own tag unless another is given.
    func reply(to request: Request, _ command: ReplyCommand, _ body: JSONValue, tag: [UInt8]? = nil) throws {
        _ = try socket.send([request.peer] + ClientFrames.encodeReply(command, tag: tag ?? request.tag, body: body))
    }

    /// Answers every request with `answer` until `call` has finished; returns the requests.
    func serve<T>(until call: ClientCall<T>, _ answer: (Request) throws -> (ReplyCommand, JSONValue)) throws -> [Request] {
        var seen: [Request] = []
        let giveUp = Date().addingTimeInterval(30)
        while !call.isFinished {
            guard Date() < giveUp else {
                XCTFail("the client call did not finish")
                break
            }
            guard let request = try receive(timeoutMs: 50) else { continue }
            seen.append(request)
            let (command, body) = try answer(request)
            try reply(to: request, command, body)
        }
        return seen
    }
}

/// A client call on a thread of its own (a client owns its socket, so it is made there),
/// while the test's thread plays the broker with a `RouterStub`.
///
/// `@unchecked Sendable`: `outcome` is written once by the call's thread and read only
/// under `lock`; the client itself never leaves that thread.
final class ClientCall<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ endpoint: String, timeoutMs: Int = 10_000, attempts: Int = 3,
         _ body: @escaping @Sendable (BatonClient) throws -> T) {
        let thread = Thread { [self] in
            let result = Result { () throws -> T in
                let client = try BatonClient(endpoint: endpoint, timeoutMs: timeoutMs, attempts: attempts)
                defer { client.close() }
                return try body(client)
            }
            lock.withLock { outcome = result }
            done.signal()
        }
        thread.start()
    }

    var isFinished: Bool { lock.withLock { outcome != nil } }

    /// What the call returned or threw; waits for it, at most `timeout` seconds (a bound
    /// against hangs).
    func result(timeout: TimeInterval = 30) throws -> T {
        guard done.wait(timeout: .now() + timeout) == .success else { throw CallDidNotFinish(seconds: timeout) }
        return try lock.withLock { outcome! }.get()
    }
}

struct CallDidNotFinish: Error {
    var seconds: TimeInterval
}
