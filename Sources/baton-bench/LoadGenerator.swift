import BatonWire
import Foundation
import Synchronization
import ZeroMQ

/// A SUBMIT body with a hole for the idempotency key: `head + key + tail`. Encoded once
/// (JSONWriter, keys sorted), so each request costs a splice, not a JSON encode.
struct SubmitTemplate: Sendable {
    let head: [UInt8]
    let tail: [UInt8]

    init(workflow: JSONValue) {
        let marker = "@@BATON-BENCH-KEY@@"
        let bytes = JSONWriter.bytes(["idempotency_key": .string(marker), "workflow": workflow])
        let m = Array(marker.utf8)
        var at = 0
        while Array(bytes[at..<(at + m.count)]) != m { at += 1 }
        head = Array(bytes[..<at])
        tail = Array(bytes[(at + m.count)...])
    }

    func body(key: [UInt8]) -> [UInt8] {
        var out = head
        out.reserveCapacity(head.count + key.count + tail.count)
        out += key
        out += tail
        return out
    }

    /// A one-block workflow of `jobs` echo jobs, all allowed to run at once.
    static func echoWorkflow(name: String, blocks: Int = 1, jobsPerBlock: Int = 1) -> JSONValue {
        let job: JSONValue = ["type": "echo", "args": ["bench": true]]
        let block: JSONValue = ["concurrency": .int(Int64(jobsPerBlock)), "jobs": .array(Array(repeating: job, count: jobsPerBlock))]
        return ["name": .string(name), "blocks": .array(Array(repeating: block, count: blocks))]
    }
}

/// What one pipelined load run does.
struct LoadConfig: Sendable {
    enum Flow: Sendable {
        /// SUBMIT → ID, counted at the ID.
        case submit
        /// SUBMIT → ID → EXEC → STATUS, counted at the STATUS.
        case handshake
    }

    var endpoint: String
    var connections: Int
    /// Threads the connections are spread over (each multiplexes its sockets with one poll).
    var threads: Int
    /// Requests in flight per connection, each with its own tag.
    var window: Int
    var flow: Flow
    var template: SubmitTemplate
    /// Unique per run: idempotency keys are global and permanent.
    var keyPrefix: String
    /// Completions in [warmup, warmup + measure) count; new flows start until
    /// warmup + measure (or until `budget` flows were started).
    var warmupSeconds: Double
    var measureSeconds: Double
    var budget: Int?
    /// Keep the ids of completed flows (the restart scenario needs them).
    var collectIds = false
    /// After the last flow started, how long outstanding replies may take before the
    /// run counts as stalled.
    var drainSeconds: Double = 30
    /// Longest a budget run may take in all before it counts as stalled.
    var maxSeconds: Double = 300
}

struct LoadResult: Sendable {
    var measured = 0
    var completed = 0
    var started = 0
    var errorReplies = 0
    var firstError: String?
    /// Replies no request was waiting for (bad tag): should stay 0.
    var strays = 0
    /// Requests still unanswered when the drain timed out: a stall.
    var stalled = 0
    var fatal: String?
    var ids: [String] = []
    var lastCompletionNs: UInt64 = 0
    /// Set by `runLoad`.
    var startNs: UInt64 = 0
    var measureStartNs: UInt64 = 0
    var measureEndNs: UInt64 = 0
    var generatorCPUSeconds = 0.0
    var brokerCPUSeconds = 0.0
    /// Machine-wide busy and stolen CPU seconds over the window (window runs only).
    var machineBusySeconds = 0.0
    var machineStealSeconds = 0.0
    /// Completions per millisecond of the measurement window.
    var buckets: [UInt32] = []

    var windowSeconds: Double { Double(measureEndNs - measureStartNs) / 1e9 }
    /// Completions per 100 ms of the window (shows turn bursts and drift).
    var timeline: [Int] {
        stride(from: 0, to: buckets.count, by: 100).map { i in
            buckets[i..<min(i + 100, buckets.count)].reduce(0) { $0 + Int($1) }
        }
    }

    /// Completions in the window ÷ its length.
    var meanPerSecond: Double { Double(measured) / windowSeconds }

    /// The rate as the least-squares slope of cumulative completions over the window's
    /// milliseconds. Replies come in bursts, one per broker turn (up to 256 at a time),
    /// so a plain count ÷ window can be off by a whole burst; the slope is off by far
    /// less, because it weighs every burst, not only the two at the window's edges.
    var perSecond: Double {
        let n = buckets.count
        guard n >= 10 else { return meanPerSecond }
        var cumulative = 0.0
        var sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for (i, c) in buckets.enumerated() {
            cumulative += Double(c)
            let x = Double(i) + 1
            sx += x
            sy += cumulative
            sxx += x * x
            sxy += x * cumulative
        }
        let d = Double(n)
        let slopePerMs = (d * sxy - sx * sy) / (d * sxx - sx * sx)
        return slopePerMs * 1000
    }

    mutating func merge(_ o: LoadResult) {
        measured += o.measured
        completed += o.completed
        started += o.started
        errorReplies += o.errorReplies
        firstError = firstError ?? o.firstError
        strays += o.strays
        stalled += o.stalled
        fatal = fatal ?? o.fatal
        ids += o.ids
        if buckets.count < o.buckets.count { buckets += Array(repeating: 0, count: o.buckets.count - buckets.count) }
        for (i, c) in o.buckets.enumerated() { buckets[i] += c }
        lastCompletionNs = max(lastCompletionNs, o.lastCompletionNs)
    }

    /// CPU the rest of the machine used in the window (busy minus broker and generator),
    /// and stolen time, as a text for the notes.
    var othersText: String {
        let others = max(0, machineBusySeconds - brokerCPUSeconds - generatorCPUSeconds)
        return "other processes \(pct(others / windowSeconds)), steal \(pct(machineStealSeconds / windowSeconds))"
    }

    /// Why the run cannot be trusted, if it cannot.
    var problem: String? {
        if let fatal { return fatal }
        if stalled > 0 { return "stalled: \(stalled) request(s) unanswered after the drain timeout" }
        if errorReplies > 0 { return "\(errorReplies) ERROR repl(ies), first: \(firstError ?? "?")" }
        if strays > 0 { return "\(strays) repl(ies) with an unknown tag" }
        return nil
    }
}

/// Shared by the generator threads of one run.
final class LoadShared: Sendable {
    let tickets = Atomic<Int>(0)
    let budget: Int
    init(budget: Int?) { self.budget = budget ?? .max }

    /// Takes the right to start one more flow.
    func take() -> Bool {
        if budget == .max { return true }
        return tickets.wrappingAdd(1, ordering: .relaxed).oldValue < budget
    }
}

/// Runs threads and collects what each returns.
final class ThreadGroup<T: Sendable>: Sendable {
    private let results = Mutex<[Int: T]>([:])
    private let group = DispatchGroup()

    func spawn(_ count: Int, name: String, _ body: @escaping @Sendable (Int) -> T) {
        for i in 0..<count {
            group.enter()
            let t = Thread { [self] in
                let r = body(i)
                results.withLock { $0[i] = r }
                group.leave()
            }
            t.name = "\(name)-\(i)"
            t.start()
        }
    }

    func join() -> [T] {
        group.wait()
        return results.withLock { results in results.keys.sorted().map { results[$0]! } }
    }
}

/// Drives a broker with pipelined DEALER connections. The calling (main) thread only
/// samples CPU times at the window's edges; the load comes from `threads` threads.
func runLoad(_ cfg: LoadConfig, brokerPid: pid_t) throws -> LoadResult {
    let context = try Context()
    let shared = LoadShared(budget: cfg.budget)
    let perThread = (0..<cfg.threads).map { t in
        (cfg.connections / cfg.threads) + (t < cfg.connections % cfg.threads ? 1 : 0)
    }
    // Every thread starts sending at t0, once its sockets are connected.
    let t0 = nowNs() + 100_000_000
    let measureStart = t0 + UInt64(cfg.warmupSeconds * 1e9)
    // A budget run starts flows until the budget or the time is used up, whichever first.
    let stopAt = measureStart + UInt64(cfg.measureSeconds * 1e9)
    let group = ThreadGroup<LoadResult>()
    group.spawn(cfg.threads, name: "load") { t in
        loadThread(index: t, sockets: perThread[t], cfg: cfg, context: context, shared: shared,
                   t0: t0, measureStart: measureStart, stopAt: stopAt)
    }
    var total = LoadResult()
    var cpu0 = 0.0, broker0 = 0.0
    if cfg.budget == nil {
        sleepUntil(measureStart)
        cpu0 = Proc.selfCPUSeconds()
        broker0 = Proc.cpuSeconds(brokerPid) ?? 0
        let machine0 = Proc.machineCPU()
        sleepUntil(stopAt)
        total.generatorCPUSeconds = Proc.selfCPUSeconds() - cpu0
        total.brokerCPUSeconds = (Proc.cpuSeconds(brokerPid) ?? 0) - broker0
        let machine1 = Proc.machineCPU()
        total.machineBusySeconds = machine1.busy - machine0.busy
        total.machineStealSeconds = machine1.steal - machine0.steal
    } else {
        sleepUntil(t0)
        cpu0 = Proc.selfCPUSeconds()
        broker0 = Proc.cpuSeconds(brokerPid) ?? 0
    }
    for r in group.join() { total.merge(r) }
    if cfg.budget != nil {
        total.generatorCPUSeconds = Proc.selfCPUSeconds() - cpu0
        total.brokerCPUSeconds = (Proc.cpuSeconds(brokerPid) ?? 0) - broker0
    }
    total.startNs = t0
    total.measureStartNs = cfg.budget == nil ? measureStart : t0
    total.measureEndNs = cfg.budget == nil ? stopAt : max(total.lastCompletionNs, t0 + 1)
    return total
}

/// One generator thread: `sockets` DEALERs, `window` slots each. A slot runs one flow
/// at a time (SUBMIT, or SUBMIT then EXEC); its tag is (slot, sequence), so a reply
/// finds its slot directly and a stale one is recognised.
private func loadThread(index: Int, sockets count: Int, cfg: LoadConfig, context: Context, shared: LoadShared,
                        t0: UInt64, measureStart: UInt64, stopAt: UInt64) -> LoadResult {
    var result = LoadResult()
    guard count > 0 else { return result }
    result.buckets = Array(repeating: 0, count: Int((stopAt - measureStart + 999_999) / 1_000_000))
    var sockets: [Socket] = []
    defer { for s in sockets { s.close(linger: 0) } }
    struct Slot {
        var seq: UInt32 = 0
        var busy = false
        var phase: UInt8 = 0
    }
    let proto = ClientFrames.protocolId
    let submitCmd = Array(ClientCommand.submit.rawValue.utf8)
    let execCmd = Array(ClientCommand.exec.rawValue.utf8)
    let keyBase = Array("\(cfg.keyPrefix)-\(index)-".utf8)
    var keyCounter = 0
    var slots: [[Slot]] = []
    var outstanding = 0
    var stopped = false

    func tag(_ slot: Int, _ seq: UInt32) -> [UInt8] {
        let s = UInt32(slot)
        return [UInt8(truncatingIfNeeded: s), UInt8(truncatingIfNeeded: s >> 8), UInt8(truncatingIfNeeded: s >> 16),
                UInt8(truncatingIfNeeded: s >> 24), UInt8(truncatingIfNeeded: seq), UInt8(truncatingIfNeeded: seq >> 8),
                UInt8(truncatingIfNeeded: seq >> 16), UInt8(truncatingIfNeeded: seq >> 24)]
    }

    func startFlow(_ si: Int, _ slot: Int) throws {
        if stopped { return }
        if nowNs() >= stopAt || !shared.take() {
            stopped = true
            return
        }
        keyCounter += 1
        var key = keyBase
        key += Array(String(keyCounter).utf8)
        slots[si][slot].seq &+= 1
        slots[si][slot].busy = true
        slots[si][slot].phase = 0
        try sockets[si].send([[], proto, submitCmd, tag(slot, slots[si][slot].seq), cfg.template.body(key: key)])
        outstanding += 1
        result.started += 1
    }

    func complete(_ si: Int, _ slot: Int, now: UInt64) throws {
        slots[si][slot].busy = false
        outstanding -= 1
        result.completed += 1
        result.lastCompletionNs = now
        if now >= measureStart && now < stopAt {
            result.measured += 1
            let b = Int((now - measureStart) / 1_000_000)
            if b < result.buckets.count { result.buckets[b] += 1 }
        }
        try startFlow(si, slot)
    }

    func handle(_ si: Int, _ frames: [[UInt8]]) throws {
        guard frames.count == 5, frames[3].count == 8 else {
            result.strays += 1
            return
        }
        let t = frames[3]
        let slot = Int(t[0]) | Int(t[1]) << 8 | Int(t[2]) << 16 | Int(t[3]) << 24
        let seq = UInt32(t[4]) | UInt32(t[5]) << 8 | UInt32(t[6]) << 16 | UInt32(t[7]) << 24
        guard slot < slots[si].count, slots[si][slot].busy, slots[si][slot].seq == seq else {
            result.strays += 1
            return
        }
        let reply: ClientFrames.Reply
        do {
            reply = try ClientFrames.decodeReply(frames)
        } catch {
            result.errorReplies += 1
            result.firstError = result.firstError ?? "undecodable reply: \(error)"
            try complete(si, slot, now: nowNs())
            return
        }
        let now = nowNs()
        switch (cfg.flow, slots[si][slot].phase, reply.command) {
        case (.submit, 0, .id):
            try complete(si, slot, now: now)
        case (.handshake, 0, .id):
            guard let id = reply.body["id"]?.stringValue else {
                result.errorReplies += 1
                result.firstError = result.firstError ?? "ID reply without an id"
                try complete(si, slot, now: now)
                return
            }
            slots[si][slot].seq &+= 1
            slots[si][slot].phase = 1
            var body = Array("{\"id\":\"".utf8)
            body += Array(id.utf8)
            body += Array("\"}".utf8)
            try sockets[si].send([[], proto, execCmd, tag(slot, slots[si][slot].seq), body])
        case (.handshake, 1, .status):
            if cfg.collectIds, let id = reply.body["id"]?.stringValue { result.ids.append(id) }
            try complete(si, slot, now: now)
        default:
            result.errorReplies += 1
            result.firstError = result.firstError ?? describe(reply)
            try complete(si, slot, now: now)
        }
    }

    do {
        for _ in 0..<count {
            let s = try context.socket(.dealer)
            try s.setLinger(0)
            try s.setSendHighWaterMark(100_000)
            try s.setReceiveHighWaterMark(100_000)
            try s.connect(cfg.endpoint)
            sockets.append(s)
            slots.append(Array(repeating: Slot(), count: cfg.window))
        }
        var poller = try Poller(sockets.map { .socket($0) })
        sleepUntil(t0)
        for si in 0..<count {
            for slot in 0..<cfg.window { try startFlow(si, slot) }
        }
        var drainDeadline = t0 + UInt64(cfg.maxSeconds * 1e9)
        var draining = false
        while outstanding > 0 {
            let ready = try poller.poll(timeoutMs: 20)
            for si in 0..<count where ready[si] {
                while let frames = try sockets[si].receive(dontWait: true) { try handle(si, frames) }
            }
            let now = nowNs()
            if now >= stopAt { stopped = true }
            if stopped && !draining {
                draining = true
                drainDeadline = min(drainDeadline, now + UInt64(cfg.drainSeconds * 1e9))
            }
            if now > drainDeadline {
                result.stalled = outstanding
                break
            }
        }
    } catch {
        result.fatal = "generator thread \(index): \(error)"
    }
    return result
}
