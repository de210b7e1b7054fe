import Foundation

/// Random and mutated messages for the broker's two ROUTER endpoints, as a DEALER sends
/// them (frame 0 is the delimiter; the ROUTER adds the routing id). Templates are the
/// valid requests of Protocol/spec.md (§4.3, §9.2), which the mutations start from.
///
/// Two things are never sent, because they are not malformed input but authority the
/// fuzz peers would legitimately hold in plain mode (roles are tested elsewhere):
/// STOP/RESUME on the client endpoint (an emergency stop fails the legitimate workflows
/// by design), and a READY that declares the legitimate worker's type (`echo`), which
/// would hand the legitimate jobs to a peer that never runs them.
struct HostileMessages {
    enum Endpoint: String { case client, worker }

    /// The broker's `--max-message-bytes` in the test; bodies are sized around it.
    let limit: Int
    let legitType: String

    static let someId = "01JDQ8ZK4M3V7W2XN9RTBCEFGH"
    static let clientProtocol = Array("BATON/1".utf8)
    static let workerProtocol = Array("BATON-W/1".utf8)

    static let clientTemplates: [[[UInt8]]] = [
        ("SUBMIT", #"{"idempotency_key":"fz-1","workflow":{"blocks":[{"concurrency":2,"jobs":[{"args":{"n":1},"name":"a","retry":{"backoff_ms":10,"max_attempts":2},"timeout_ms":1000,"type":"fz.never"}]}],"description":"d","name":"fz"}}"#),
        ("SUBMIT", #"{"workflow":{"blocks":[{"jobs":[{"type":"fz.never"}]},{"jobs":[{"args":{}}]}],"name":"broken"}}"#),
        ("EXEC", #"{"id":"\#(someId)"}"#),
        ("STATUS", #"{"id":"\#(someId)"}"#),
        ("CANCEL", #"{"id":"\#(someId)"}"#),
        ("WATCH", #"{"after":5,"id":"\#(someId)","wait_ms":30000}"#),
        ("LIST", #"{"before":"\#(someId)","limit":10,"name":"fz","state":"RUNNING"}"#),
        ("PING", "{}"),
    ].map { [[], clientProtocol, Array($0.0.utf8), Array("t-1".utf8), Array($0.1.utf8)] }

    static let workerTemplates: [[[UInt8]]] = [
        ("READY", #"{"capacity":2,"types":["fz.a","fz.b"],"worker":"fz"}"#),
        ("RESULT", #"{"attempt":1,"job_id":"\#(someId).0.0","ok":true,"output":{"x":1}}"#),
        ("RESULT", #"{"attempt":2,"error":"boom","job_id":"\#(someId).1.3","ok":false,"retryable":false}"#),
        ("HEARTBEAT", "{}"),
        ("PROGRESS", #"{"attempt":1,"details":{"percent":40},"job_id":"\#(someId).0.0"}"#),
        ("DISCONNECT", "{}"),
        ("JOB", #"{"args":{},"attempt":1,"job_id":"\#(someId).0.0","timeout_ms":0,"type":"fz.a","workflow_id":"\#(someId)"}"#),
    ].map { [[], workerProtocol, Array($0.0.utf8), Array($0.1.utf8)] }

    /// One hostile message. `legitIds` are workflow ids the legitimate client is running:
    /// WATCHes park on them and forged RESULTs name their jobs.
    func next(_ endpoint: Endpoint, legitIds: [String], using rng: inout SplitMix64) -> [[UInt8]] {
        while true {
            let m = endpoint == .client ? clientMessage(legitIds, &rng) : workerMessage(legitIds, &rng)
            if allowed(m, endpoint) { return m }
        }
    }

    private func allowed(_ m: [[UInt8]], _ endpoint: Endpoint) -> Bool {
        switch endpoint {
        case .client: return !m.contains { $0 == Array("STOP".utf8) || $0 == Array("RESUME".utf8) }
        case .worker: return !m.contains { contains($0, Array(legitType.utf8)) }
        }
    }

    private func clientMessage(_ legit: [String], _ rng: inout SplitMix64) -> [[UInt8]] {
        let template = Self.clientTemplates.randomElement(using: &rng)!
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<12: return randomFrames(&rng)
        case 12..<50: return mutate(template, &rng)
        case 50..<58: return withBody(template, deepNesting(&rng))
        case 58..<66: return withBody(template, hugeNumbers(template.last!, &rng))
        case 66..<74: return invalidUTF8(template, &rng)
        case 74..<80: return withBody(template, oversized(&rng))
        case 80..<88: return wrongFrameCount(template, &rng)
        case 88..<94 where !legit.isEmpty:
            // Parked long-polls on live workflows, many per peer.
            let id = legit.randomElement(using: &rng)!
            return [[], Self.clientProtocol, Array("WATCH".utf8), Array("w".utf8),
                    Array(#"{"after":1000000,"id":"\#(id)","wait_ms":60000}"#.utf8)]
        default:
            return [[], Self.clientProtocol, Array("STATUS".utf8), randomBytes(0...64, &rng),
                    Array(#"{"id":"\#(randomULID(&rng))"}"#.utf8)]
        }
    }

    private func workerMessage(_ legit: [String], _ rng: inout SplitMix64) -> [[UInt8]] {
        let template = Self.workerTemplates.randomElement(using: &rng)!
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<12: return randomFrames(&rng)
        case 12..<45: return mutate(template, &rng)
        case 45..<52: return withBody(template, deepNesting(&rng))
        case 52..<58: return withBody(template, hugeNumbers(template.last!, &rng))
        case 58..<64: return invalidUTF8(template, &rng)
        case 64..<70: return wrongFrameCount(template, &rng)
        case 70..<76: return hugeReady(&rng)
        case 76..<82:
            // Worker messages may be up to 16 x the limit per frame (spec §3.4).
            let pad = String(repeating: "x", count: Int.random(in: limit...(limit * 15), using: &rng))
            return worker("RESULT", #"{"attempt":1,"job_id":"\#(randomULID(&rng)).0.0","ok":true,"output":"\#(pad)"}"#)
        case 82..<92 where !legit.isEmpty:
            // Forged RESULTs for the legitimate client's jobs: fencing must drop them.
            let id = legit.randomElement(using: &rng)!
            let ok = Bool.random(using: &rng)
            return worker("RESULT", #"{"attempt":\#(Int.random(in: 1...3, using: &rng)),"error":"forged","job_id":"\#(id).0.\#(Int.random(in: 0...1, using: &rng))","ok":\#(ok),"output":{"forged":true},"retryable":false}"#)
        case 92..<96:
            // A RESULT for a job never sent, from a peer that is (or will be) registered.
            return worker("RESULT", #"{"attempt":\#(Int.random(in: 1...5, using: &rng)),"job_id":"\#(randomULID(&rng)).\#(Int.random(in: 0...9, using: &rng)).0","ok":true}"#)
        default:
            return worker("READY", #"{"capacity":\#(Int.random(in: 1...10_000, using: &rng)),"types":["fz.\#(Int.random(in: 0...99, using: &rng))"],"worker":"fz"}"#)
        }
    }

    private func worker(_ command: String, _ body: String) -> [[UInt8]] {
        [[], Self.workerProtocol, Array(command.utf8), Array(body.utf8)]
    }

    private func withBody(_ template: [[UInt8]], _ body: [UInt8]) -> [[UInt8]] {
        var m = template
        m[m.count - 1] = body
        return m
    }

    // MARK: Kinds of hostile input

    private func randomFrames(_ rng: inout SplitMix64) -> [[UInt8]] {
        (0..<Int.random(in: 0...8, using: &rng)).map { _ in
            Int.random(in: 0..<10, using: &rng) == 0 ? [] : randomBytes(0...(Bool.random(using: &rng) ? 16 : 300), &rng)
        }
    }

    /// Arrays or objects nested past the parser's limit of 64 (and some within it).
    private func deepNesting(_ rng: inout SplitMix64) -> [UInt8] {
        let depth = Int.random(in: 60...min(2000, limit / 2 - 2), using: &rng)
        if Bool.random(using: &rng) {
            return Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8)
        }
        let open = String(repeating: #"{"a":"#, count: depth)
        return Array(("{\"x\":" + open + "1" + String(repeating: "}", count: depth) + "}").utf8)
    }

    /// The template's body with numbers no field accepts: beyond Int64, beyond Double,
    /// long fractions and exponents, negative zero.
    private func hugeNumbers(_ body: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        let huge = ["9223372036854775808", "-9223372036854775809", "1e999", "-1e400", "1" + String(repeating: "0", count: 400),
                    "0.000000000000000000000000000001", "1.5", "-0", "3.0e0", "123456789012345678901234567890e-10"]
        var text = String(decoding: body, as: UTF8.self)
        for key in ["\"attempt\":", "\"after\":", "\"wait_ms\":", "\"limit\":", "\"capacity\":", "\"concurrency\":", "\"timeout_ms\":"] {
            if let range = text.range(of: key) {
                let end = text[range.upperBound...].firstIndex { !"-0123456789.eE+".contains($0) } ?? text.endIndex
                text.replaceSubrange(range.upperBound..<end, with: huge.randomElement(using: &rng)!)
            }
        }
        if text == "{}" { text = #"{"n":\#(huge.randomElement(using: &rng)!)}"# }
        return Array(text.utf8)
    }

    private func invalidUTF8(_ template: [[UInt8]], _ rng: inout SplitMix64) -> [[UInt8]] {
        let bad: [[UInt8]] = [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]]
        var m = template
        let frame = Int.random(in: 2..<m.count, using: &rng)
        let at = Int.random(in: 0...m[frame].count, using: &rng)
        m[frame].insert(contentsOf: bad.randomElement(using: &rng)!, at: at)
        return m
    }

    /// Bodies over the limit (`too_large`), and now and then over 16 x the limit, which
    /// libzmq answers by dropping the connection (spec §3.4).
    private func oversized(_ rng: inout SplitMix64) -> [UInt8] {
        let size = Int.random(in: 0..<20, using: &rng) == 0 ? limit * 16 + 100 : Int.random(in: (limit + 1)...(limit * 4), using: &rng)
        return Array(("{\"pad\":\"" + String(repeating: "y", count: size) + "\"}").utf8)
    }

    private func wrongFrameCount(_ template: [[UInt8]], _ rng: inout SplitMix64) -> [[UInt8]] {
        var m = template
        if Bool.random(using: &rng) {
            m.removeLast(Int.random(in: 1...m.count, using: &rng))
        } else {
            for _ in 0..<Int.random(in: 1...4, using: &rng) { m.append(randomBytes(0...8, &rng)) }
        }
        return m
    }

    /// READY with too many types, types too long, or an empty list.
    private func hugeReady(_ rng: inout SplitMix64) -> [[UInt8]] {
        let types: [String]
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: types = (0..<Int.random(in: 257...4000, using: &rng)).map { "fz\($0)" }
        case 1: types = [String(repeating: "t", count: Int.random(in: 101...5000, using: &rng))]
        default: types = []
        }
        let list = types.map { "\"\($0)\"" }.joined(separator: ",")
        return worker("READY", #"{"capacity":1,"types":[\#(list)],"worker":"fz"}"#)
    }

    // MARK: Mutations

    private func mutate(_ template: [[UInt8]], _ rng: inout SplitMix64) -> [[UInt8]] {
        var m = template
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let f = m.isEmpty ? 0 : Int.random(in: 0..<m.count, using: &rng)
            switch Int.random(in: 0..<9, using: &rng) {
            case 0 where !m.isEmpty && !m[f].isEmpty:  // flip a bit
                let i = Int.random(in: 0..<m[f].count, using: &rng)
                m[f][i] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1 where !m.isEmpty:  // insert a byte, often one that means something in JSON
                let interesting: [UInt8] = Array(#"{}[]",:\0-e."#.utf8) + [0x00, 0xFF, 0x1F]
                let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
                m[f].insert(byte, at: Int.random(in: 0...m[f].count, using: &rng))
            case 2 where !m.isEmpty && !m[f].isEmpty:  // delete a run of bytes
                let start = Int.random(in: 0..<m[f].count, using: &rng)
                m[f].removeSubrange(start..<min(m[f].count, start + Int.random(in: 1...8, using: &rng)))
            case 3 where !m.isEmpty:  // duplicate a frame
                m.insert(m[f], at: Int.random(in: 0...m.count, using: &rng))
            case 4 where !m.isEmpty:  // delete a frame
                m.remove(at: f)
            case 5:  // insert a random frame
                m.insert(randomBytes(0...32, &rng), at: Int.random(in: 0...m.count, using: &rng))
            case 6 where m.count > 1:  // swap two frames
                m.swapAt(f, Int.random(in: 0..<m.count, using: &rng))
            case 7 where !m.isEmpty && !m[f].isEmpty:  // truncate
                m[f].removeLast(Int.random(in: 1...m[f].count, using: &rng))
            case 8 where !m.isEmpty:  // splice in a number no field accepts
                let n = ["99999999999999999999999", "1e999", "-1", "0", "4294967296"].randomElement(using: &rng)!
                m[f].insert(contentsOf: Array(n.utf8), at: Int.random(in: 0...m[f].count, using: &rng))
            default: break
            }
        }
        return m
    }

    // MARK: Bytes

    private func randomBytes(_ count: ClosedRange<Int>, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<Int.random(in: count, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    private func randomULID(_ rng: inout SplitMix64) -> String {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        return String((0..<26).map { _ in alphabet.randomElement(using: &rng)! })
    }

    /// Through Data's search: a byte-by-byte scan of 60 KB frames is too slow in debug builds.
    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        Data(haystack).range(of: Data(needle)) != nil
    }
}
