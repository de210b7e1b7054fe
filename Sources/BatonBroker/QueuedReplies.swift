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
/// Shared with libzmq's I/O threads, which call `release`: every access takes the lock.
final class QueuedReplies: Sendable {
    let capPerPeer: Int
    private let held = Mutex<[PeerId: Int]>([:])

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
        held.withLock { $0[peer] ?? 0 }
    }

    func add(_ peer: PeerId, _ bytes: Int) {
        held.withLock { $0[peer, default: 0] += bytes }
    }

    /// Called from any thread once libzmq lets go of a reply. A connection with nothing
    /// queued is forgotten, so the table holds only connections with replies in flight.
    func release(_ peer: PeerId, _ bytes: Int) {
        held.withLock { held in
            let left = (held[peer] ?? 0) - bytes
            held[peer] = left > 0 ? left : nil
        }
    }
}
