import BatonStore
import BatonWire
import Foundation
import Histogram
import Synchronization
import ZeroMQ

/// The raw limits Baton's figures sit on, measured in the same run: bare ZeroMQ
/// ROUTER/DEALER round trips through the project's own ZeroMQ module (here), SQLite
/// commits through its C API (RawSQLite.swift), and the broker's store path.

struct ZMQLimits {
    var roundTripsPerSecond: Double
    var latency: Histogram<UInt64>
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .relaxed) }
    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// A one-shot value handed from one thread to another: `take` waits for the first `put`.
/// A later `put` replaces the value but wakes no one, since `take` is called once.
final class Handoff<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func put(_ v: T) {
        value.withLock { $0 = v }
        ready.signal()
    }

    func take() -> T {
        ready.wait()
        return value.withLock { $0! }
    }
}

/// A ROUTER echo thread and a DEALER on the calling thread, over tcp on 127.0.0.1:
/// pipelined round trips per second with `window` in flight, then `samples` one at a time.
/// Messages carry BATON/1's five frames (a PING with an 8-byte tag).
func measureRawZMQ(warmupSeconds: Double, seconds: Double, window: Int, samples: Int) throws -> ZMQLimits {
    let context = try Context()
    let stop = StopFlag()
    let endpoint = Handoff<Result<String, BenchError>>()
    let echo = ThreadGroup<String?>()
    echo.spawn(1, name: "zmq-echo") { _ in
        do {
            let router = try context.socket(.router)
            defer { router.close(linger: 0) }
            try router.setSendHighWaterMark(100_000)
            try router.setReceiveHighWaterMark(100_000)
            try router.bind("tcp://127.0.0.1:*")
            endpoint.put(.success(try router.lastEndpoint))
            var poller = try Poller([.socket(router)])
            while !stop.isSet {
                _ = try poller.poll(timeoutMs: 20)
                while let frames = try router.receive(dontWait: true) { try router.send(frames) }
            }
            return nil
        } catch {
            endpoint.put(.failure(BenchError("echo thread: \(error)")))
            return "echo thread: \(error)"
        }
    }
    defer {
        stop.set()
        _ = echo.join()
    }
    let dealer = try context.socket(.dealer)
    defer { dealer.close(linger: 0) }
    try dealer.setSendHighWaterMark(100_000)
    try dealer.setReceiveHighWaterMark(100_000)
    try dealer.connect(try endpoint.take().get())
    let head: [[UInt8]] = [[], ClientFrames.protocolId, Array("PING".utf8)]
    let body = Array("{}".utf8)
    var poller = try Poller([.socket(dealer)])
    var n: UInt64 = 0
    func message() -> [[UInt8]] {
        n += 1
        return head + [withUnsafeBytes(of: n) { Array($0) }, body]
    }

    // Pipelined.
    for _ in 0..<window { try dealer.send(message()) }
    let start = nowNs()
    let measureStart = start + UInt64(warmupSeconds * 1e9)
    let measureEnd = measureStart + UInt64(seconds * 1e9)
    var counted = 0
    var inFlight = window
    while inFlight > 0 {
        _ = try poller.poll(timeoutMs: 100)
        let now = nowNs()
        while try dealer.receive(dontWait: true) != nil {
            inFlight -= 1
            if now >= measureStart && now < measureEnd { counted += 1 }
            if now < measureEnd {
                try dealer.send(message())
                inFlight += 1
            }
        }
        if now > measureEnd + 10_000_000_000 { throw BenchError("raw ZeroMQ: \(inFlight) round trips never came back") }
    }

    // One at a time.
    var h = latencyHistogram()
    for i in 0..<(samples + samples / 10) {
        let t0 = nowNs()
        try dealer.send(message())
        while true {
            if try dealer.receive(dontWait: true) != nil { break }
            _ = try poller.poll(timeoutMs: 1000)
            if nowNs() - t0 > 10_000_000_000 { throw BenchError("raw ZeroMQ: a round trip took over 10 s") }
        }
        if i >= samples / 10 { h.record((nowNs() - t0) / 1000) }
    }
    return ZMQLimits(roundTripsPerSecond: Double(counted) / seconds, latency: h)
}

struct StoreLimits {
    /// One SUBMIT-shaped write (workflow row + job row + submitted event) per transaction.
    var singleWorkflowCommitsPerSecond: Double
    var singleWorkflowLatency: Histogram<UInt64>
    /// 1000 SUBMIT-shaped writes per transaction.
    var batchedWorkflowsPerSecond: Double
}

/// The broker's own write path: `Store.apply` on a fresh file in `dir`, opened as the
/// broker opens it. Only `apply` is timed, not building the batches.
func measureStore(dir: String, secondsEach: Double) throws -> StoreLimits {
    let store = try Store(path: "\(dir)/limits.db")
    let spec = try WorkflowSpec.parse(SubmitTemplate.echoWorkflow(name: "limits"))
    let salt = UInt64.random(in: 0..<(1 << 40))
    var idCounter: UInt64 = 0
    func submitted(into b: inout WriteBatch) {
        idCounter += 1
        let ms = Int64(Date().timeIntervalSince1970 * 1000)
        let id = FakeULID.make(ms: UInt64(ms), salt: salt, n: idCounter)
        b.inserted.append(WorkflowRecord(id: id, spec: spec, idempotencyKey: "limits-\(salt)-\(idCounter)", submittedAt: ms,
                                         expiresAt: ms + 86_400_000, lastEvent: 1))
        // What the engine writes for a SUBMIT: the row alone; its `workflow.submitted`
        // is implied by it (schema v8), so the batch holds no event.
    }

    /// Applies batches of `perBatch` workflows for `secondsEach` of apply time; returns
    /// workflows per second of apply time.
    func timed(_ perBatch: Int, _ h: inout Histogram<UInt64>) throws -> Double {
        var busy: UInt64 = 0
        var items = 0
        let wallEnd = nowNs() + UInt64(secondsEach * 3 * 1e9)
        while busy < UInt64(secondsEach * 1e9) && nowNs() < wallEnd {
            var batch = WriteBatch()
            for _ in 0..<perBatch { submitted(into: &batch) }
            let t0 = nowNs()
            try store.apply(batch)
            let dt = nowNs() - t0
            busy += dt
            h.record(dt / 1000)
            items += perBatch
        }
        return Double(items) / (Double(busy) / 1e9)
    }

    var single = latencyHistogram()
    var scratch = latencyHistogram()
    let singleRate = try timed(1, &single)
    let batched = try timed(1000, &scratch)
    return StoreLimits(singleWorkflowCommitsPerSecond: singleRate, singleWorkflowLatency: single,
                       batchedWorkflowsPerSecond: batched)
}

/// ULID-shaped ids (26 Crockford base32 characters, time first) that the bench can
/// recompute from a number, so random lookups need no stored list.
enum FakeULID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    static func make(ms: UInt64, salt: UInt64, n: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 26)
        var t = ms
        for i in stride(from: 9, through: 0, by: -1) {
            out[i] = alphabet[Int(t & 31)]
            t >>= 5
        }
        var a = salt & 0xFF_FFFF_FFFF
        var b = n & 0xFF_FFFF_FFFF
        for i in stride(from: 17, through: 10, by: -1) {
            out[i] = alphabet[Int(a & 31)]
            a >>= 5
        }
        for i in stride(from: 25, through: 18, by: -1) {
            out[i] = alphabet[Int(b & 31)]
            b >>= 5
        }
        return String(decoding: out, as: UTF8.self)
    }
}
