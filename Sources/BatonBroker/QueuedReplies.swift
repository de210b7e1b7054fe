import Synchronization

/// The bytes of client replies that libzmq still holds, per client connection (spec
/// §3.4): added when a reply is queued, taken off when libzmq lets go of it (written to
/// the connection, or dropped with it) through `Socket.send(_:dontWait:released:)`.
///
/// Why the broker counts this itself: libzmq bounds a ROUTER's queue per peer in
/// messages only (`ZMQ_SNDHWM`), so a client that never reads could make the broker hold
/// 100000 replies of any size (the probe of issue 12 grew it to 2.7 GB with STATUS of a
/// 900 KB output). A connection at or over `capPerPeer` is treated as dropped: nothing
/// is sent to it and its requests are dropped unread, until it reads or disconnects
/// (libzmq then frees its queue, and the count falls with it). So what one connection
/// makes the broker hold stays under `capPerPeer` plus one reply.
///
/// A departed peer's queue is freed only because the client ROUTER has a finite LINGER
/// (BrokerServer sets 1000 ms before binding): libzmq's session for an accepted
/// connection that dropped waits LINGER for its queue to drain before dropping it, and
/// with LINGER -1 would hold it, and this count, forever.
///
/// The event loop looks counts up and adds to them; libzmq's I/O threads take off what
/// they let go of. Each connection's count is its own atomic (`Counter`), which a queued
/// reply holds on to, so a release is one atomic subtraction: no lock and no lookup by
/// peer id (the lock and two hashed lookups per reply were ~2.5k instructions, a
/// one-job workflow has two replies; `scripts/profile`). The table of counters is the
/// loop's alone (the lock is uncontended; it keeps the type `Sendable`). A count at zero
/// stays in the table until the table has doubled since it was last swept: only the loop
/// adds, so a zero read there means no reply of that connection is queued, and dropping
/// its counter loses nothing.
final class QueuedReplies: Sendable {
    /// One connection's queued bytes.
    final class Counter: Sendable {
        fileprivate let count = Atomic<Int>(0)

        var bytes: Int { count.load(ordering: .relaxed) }

        /// Counts `n` bytes queued (the event loop).
        func add(_ n: Int) {
            count.wrappingAdd(n, ordering: .relaxed)
        }

        /// Takes off what libzmq let go of (any thread). Never below zero: a count is
        /// only ever taken off what was added to it, but a miscount must not make a
        /// connection's next replies free.
        func release(_ n: Int) {
            var now = count.load(ordering: .relaxed)
            while true {
                let (done, seen) = count.compareExchange(expected: now, desired: max(0, now - n), ordering: .relaxed)
                if done { return }
                now = seen
            }
        }
    }

    private struct Table {
        var byPeer: [PeerId: Counter] = [:]
        /// Sweep the zero counts out when the table reaches this size.
        var sweepAt = 1024
    }

    let capPerPeer: Int
    private let table = Mutex(Table())

    /// What libzmq holds per frame besides its bytes (a `zmq_msg_t` in the pipe): a flood
    /// of tiny replies counts too.
    static let frameOverhead = 64

    init(capPerPeer: Int) {
        self.capPerPeer = capPerPeer
    }

    /// What a reply of these frames counts for while it is queued.
    static func cost(of frames: [[UInt8]]) -> Int {
        frames.reduce(0) { $0 + $1.count + frameOverhead }
    }

    /// Whether the connection holds `capPerPeer` bytes or more of unread replies.
    func isOverCap(_ peer: PeerId) -> Bool {
        bytes(of: peer) >= capPerPeer
    }

    func bytes(of peer: PeerId) -> Int {
        table.withLock { $0.byPeer[peer]?.bytes ?? 0 }
    }

    /// `peer`'s counter, made when it has none (the event loop only: the sweep relies on
    /// it). A reply checks the cap, adds its cost and is released through it: one lookup.
    func counter(for peer: PeerId) -> Counter {
        table.withLock { t in
            if let counter = t.byPeer[peer] { return counter }
            if t.byPeer.count >= t.sweepAt {
                t.byPeer = t.byPeer.filter { $0.value.bytes > 0 }
                t.sweepAt = max(1024, 2 * t.byPeer.count)
            }
            let counter = Counter()
            t.byPeer[peer] = counter
            return counter
        }
    }

    /// Counts `n` bytes queued for `peer` (the event loop only); returns the counter the
    /// reply takes them off when libzmq lets go of it.
    @discardableResult
    func add(_ peer: PeerId, _ n: Int) -> Counter {
        let counter = counter(for: peer)
        counter.add(n)
        return counter
    }

    /// Takes `n` bytes off `peer`'s count (tests; the broker releases through the
    /// `Counter` that `add` returned).
    func release(_ peer: PeerId, _ n: Int) {
        table.withLock { $0.byPeer[peer] }?.release(n)
    }

    /// How many connections the table holds counters for (tests).
    var tableCount: Int { table.withLock { $0.byPeer.count } }
}
