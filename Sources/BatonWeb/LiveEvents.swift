import BatonClient
import BatonWire
import Foundation
import Hummingbird
import ServiceLifecycle

/// `/workflows/ID/events`: server-sent events fed by WATCH long-polls. Each event goes
/// out as `event: baton` with its `seq` as the SSE id, so a browser that reconnects sends
/// `Last-Event-ID` and misses nothing (WATCH's `after`). A final workflow ends the stream
/// with `event: end`; a broker that does not answer ends it with `event: unavailable` and
/// a `retry:` delay, after which the browser reconnects on its own.
///
/// Each open stream holds one thread of the live pool while its WATCH waits, so streams
/// are counted: beyond `limit` a browser is told to come back later instead of queueing
/// behind the others.
final class LiveEvents: @unchecked Sendable {
    private let pool: BrokerPool
    private let limit: Int
    private let waitMs: Int64
    private let lock = NSLock()
    private var open = 0

    /// Short long-polls: a page that was closed, and a shutdown, are noticed within one
    /// wait (the pool call cannot be interrupted while its WATCH is held); an idle page
    /// costs the broker one cheap WATCH every few seconds.
    init(pool: BrokerPool, limit: Int, waitMs: Int64 = 3000) {
        self.pool = pool
        self.limit = limit
        self.waitMs = waitMs
    }

    func response(id: String, after: Int64) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        guard let slot = acquire() else {
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(
                string: "retry: 10000\nevent: unavailable\ndata: too many live pages open; retrying in 10 s\n\n")))
        }
        // The slot is freed when the body closure is released: after the stream ends, and
        // also when the response is dropped without its body ever being written.
        let body = ResponseBody { [self] writer in
            withExtendedLifetime(slot) {}
            try await stream(id: id, after: after, to: &writer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    private func stream(id: String, after start: Int64, to writer: inout any ResponseBodyWriter) async throws {
        var after = start
        try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let page: BatonClient.EventPage
            do {
                let (w, a) = (waitMs, after)
                page = try await pool.call { try $0.watch(id, after: a, waitMs: w) }
            } catch {
                try await writer.write(ByteBuffer(string: Self.frame(event: "unavailable", id: nil, data: error.message)))
                return
            }
            for e in page.events {
                try await writer.write(ByteBuffer(string: Self.frame(event: "baton", id: e.seq, data: JSONWriter.string(e.json))))
                after = e.seq
            }
            if page.events.isEmpty {
                if page.state.isFinal {
                    try await writer.write(ByteBuffer(string: Self.frame(event: "end", id: nil, data: page.state.rawValue)))
                    return
                }
                // A comment line: keeps proxies from closing an idle stream, and a write to a
                // browser that left fails here, which ends the loop.
                try await writer.write(ByteBuffer(string: ": waiting\n\n"))
            }
        }
    }

    /// One SSE frame. `data` is one line: JSON from `JSONWriter` escapes newlines, and
    /// messages are flattened.
    static func frame(event: String, id: Int64?, data: String) -> String {
        var s = "event: \(event)\n"
        if let id { s += "id: \(id)\n" }
        s += "data: \(data.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))\n\n"
        return s
    }

    /// Open streams now (for tests and logs).
    var openStreams: Int {
        lock.lock()
        defer { lock.unlock() }
        return open
    }

    private func acquire() -> Slot? {
        lock.lock()
        defer { lock.unlock() }
        guard open < limit else { return nil }
        open += 1
        return Slot(self)
    }

    fileprivate func release() {
        lock.lock()
        open -= 1
        lock.unlock()
    }
}

/// One counted stream: released exactly once, when the last reference goes.
private final class Slot: Sendable {
    private let owner: LiveEvents

    init(_ owner: LiveEvents) { self.owner = owner }

    deinit { owner.release() }
}
