import Foundation
import ZeroMQ

/// Raw DEALER sockets that send `HostileMessages` to one endpoint of a running broker,
/// on their own thread (a socket has one owner thread). Several peers, so the broker sees
/// many connections; now and then one is replaced (a new routing id) or floods without
/// reading its replies. Replies are otherwise drained, so the count measures the broker,
/// not the test's receive queues.
final class HostilePeers: @unchecked Sendable {
    struct Stats {
        var sent = 0
        var replies = 0
        var floods = 0
        var reconnects = 0
        var stalled = false
        /// Seconds from the last hostile send until the broker had handled every message.
        var backlogSeconds = 0.0
    }

    private let endpoint: String
    private let kind: HostileMessages.Endpoint
    private let messages: HostileMessages
    private let seed: UInt64
    private let count: Int
    /// Messages a second on average (floods are bursts within it); 0 = as fast as possible.
    private let rate: Int
    private let legitIds: @Sendable () -> [String]
    private let done = DispatchSemaphore(value: 0)
    private var stats = Stats()
    private var failure: Error?

    init(endpoint: String, kind: HostileMessages.Endpoint, messages: HostileMessages, seed: UInt64, count: Int,
         rate: Int, legitIds: @escaping @Sendable () -> [String]) {
        self.rate = rate
        self.endpoint = endpoint
        self.kind = kind
        self.messages = messages
        self.seed = seed
        self.count = count
        self.legitIds = legitIds
    }

    func start() {
        Thread.detachNewThread { [self] in
            do { try run() } catch { failure = error }
            done.signal()
        }
    }

    /// Waits for the thread; throws what it threw.
    func wait(timeout: TimeInterval) throws -> Stats {
        guard done.wait(timeout: .now() + timeout) == .success else {
            throw TestFailure("\(kind) fuzz peers did not finish within \(timeout) s")
        }
        if let failure { throw failure }
        return stats
    }

    private func run() throws {
        var rng = SplitMix64(seed: seed)
        let context = try Context()
        var sockets = try (0..<8).map { _ in try newSocket(context) }
        defer { for s in sockets { s.close(linger: 0) } }
        var ids = legitIds()
        let start = Date()
        while stats.sent < count {
            pace(start)
            if stats.sent % 256 == 0 { ids = legitIds() }
            let i = Int.random(in: 0..<sockets.count, using: &rng)
            if Int.random(in: 0..<3000, using: &rng) == 0 {
                sockets[i].close(linger: 0)
                sockets[i] = try newSocket(context)
                stats.reconnects += 1
            }
            if Int.random(in: 0..<2000, using: &rng) == 0 {
                try flood(sockets[i], &rng, ids)
                continue
            }
            var m = messages.next(kind, legitIds: ids, using: &rng)
            if m.isEmpty { m = [[]] }  // a DEALER cannot send a message of no frames
            guard try send(m, sockets[i], all: sockets) else { return }
            drain(sockets[i])
        }
        try waitUntilHandled(sockets)
    }

    /// Sending is not handling: libzmq queues up to the high-water marks on both sides.
    /// A marker whose reply is recognisable goes last on every socket, and the broker
    /// handles a connection's messages in order, so once each marker is answered the
    /// broker has been through everything, with the legitimate client running meanwhile.
    ///
    /// Client endpoint: a PING tagged `sync-<n>`. Worker endpoint (which answers almost
    /// nothing): a READY with capacity 900000000+n, out of range, whose DISCONNECT reason
    /// quotes the value (spec §9.1 rule 2; if that wording changes, this times out loudly).
    private func waitUntilHandled(_ sockets: [Socket]) throws {
        let start = Date()
        var pending = Set(sockets.indices)
        let giveUp = start.addingTimeInterval(60)
        var resendAt = start
        while !pending.isEmpty {
            guard Date() < giveUp else { throw TestFailure("\(kind) endpoint: no answer to the end markers of \(pending.count) peers in 60 s") }
            // Sent again every second: a frame over ZMQ_MAXMSGSIZE makes libzmq drop the
            // connection, and whatever followed it on that connection (the marker too) is lost.
            if Date() >= resendAt {
                for n in pending { _ = try sockets[n].send(marker(n), dontWait: true) }  // a full queue: next second
                resendAt = Date().addingTimeInterval(1)
            }
            var idle = true
            for n in pending {
                while let reply = try? sockets[n].receive(dontWait: true) {
                    idle = false
                    stats.replies += 1
                    if isMarkerReply(reply, n) { pending.remove(n); break }
                }
            }
            if idle { Thread.sleep(forTimeInterval: 0.002) }
        }
        stats.backlogSeconds = Date().timeIntervalSince(start)
    }

    private func marker(_ n: Int) -> [[UInt8]] {
        switch kind {
        case .client: [[], HostileMessages.clientProtocol, Array("PING".utf8), Array("sync-\(n)".utf8), Array("{}".utf8)]
        case .worker: [[], HostileMessages.workerProtocol, Array("READY".utf8),
                       Array(#"{"capacity":\#(900_000_000 + n),"types":["fz.sync"],"worker":"sync"}"#.utf8)]
        }
    }

    private func isMarkerReply(_ reply: [[UInt8]], _ n: Int) -> Bool {
        switch kind {
        case .client: return reply.count == 5 && reply[2] == Array("PONG".utf8) && reply[3] == Array("sync-\(n)".utf8)
        case .worker:
            return reply.count == 4 && reply[2] == Array("DISCONNECT".utf8)
                && String(decoding: reply[3], as: UTF8.self).contains("\(900_000_000 + n)")
        }
    }

    /// Holds the average rate: sleeps while ahead of `rate` messages a second since `start`.
    private func pace(_ start: Date) {
        guard rate > 0 else { return }
        let ahead = Double(stats.sent) / Double(rate) - Date().timeIntervalSince(start)
        if ahead > 0.002 { Thread.sleep(forTimeInterval: ahead) }
    }

    /// One peer sends a burst without reading a single reply.
    private func flood(_ socket: Socket, _ rng: inout SplitMix64, _ ids: [String]) throws {
        stats.floods += 1
        for _ in 0..<Int.random(in: 200...1000, using: &rng) where stats.sent < count {
            let m = messages.next(kind, legitIds: ids, using: &rng)
            guard try send(m.isEmpty ? [[]] : m, socket, all: []) else { return }
        }
    }

    /// Sends without blocking forever: a full queue is retried while the broker drains
    /// it; after 20 s of no progress the broker counts as stalled and the run ends.
    private func send(_ m: [[UInt8]], _ socket: Socket, all: [Socket]) throws -> Bool {
        let giveUp = Date().addingTimeInterval(20)
        while !(try socket.send(m, dontWait: true)) {
            if Date() > giveUp { stats.stalled = true; return false }
            for s in all { drain(s) }
            Thread.sleep(forTimeInterval: 0.001)
        }
        stats.sent += 1
        return true
    }

    private func drain(_ socket: Socket) {
        while (try? socket.receive(dontWait: true)) != nil { stats.replies += 1 }
    }

    private func newSocket(_ context: Context) throws -> Socket {
        let s = try context.socket(.dealer)
        try s.setLinger(0)
        try s.connect(endpoint)
        return s
    }
}
