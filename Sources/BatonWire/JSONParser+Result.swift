/// A RESULT body read straight into `ResultBody`, without the `[String: JSONValue]` tree
/// of the body first (its four or five keys hashed, then looked up again): one per job.
///
/// The same contract as the typed spec reader (JSONParser+Spec.swift): it accepts only
/// what `ResultBody(body:)` accepts and returns the same value, and gives up (nil) on
/// anything else, an unknown member included, so the tree path words every error.
/// `JSONParserResultTests` checks it against the tree path.
extension JSONParser {
    static func plainResult(_ body: [UInt8]) -> ResultBody? {
        body.withUnsafeBufferPointer { buffer in
            var p = JSONParser(buffer)
            p.skipSpace()
            var result = ResultBody(jobId: "", attempt: 0, ok: false), seen: UInt8 = 0
            let read = p.plainMembers(depth: 1) { p, key in
                if matches(key, "job_id") {
                    guard once(&seen, 1), case .value(let s)? = p.plainString(maxBytes: 1024), !s.isEmpty else { return false }
                    result.jobId = s
                } else if matches(key, "attempt") {
                    guard once(&seen, 2), case .value(let n)? = p.plainInt(1...Int64(Int32.max)) else { return false }
                    result.attempt = Int(n)
                } else if matches(key, "ok") {
                    guard once(&seen, 4), case .value(let b)? = p.plainBool() else { return false }
                    result.ok = b
                } else if matches(key, "output") {
                    // Any JSON, read at the depth the tree path reads it; null is absent.
                    // Canonical text (a compact writer with sorted keys) is kept as it came,
                    // without a tree (`JSONText`); other text is parsed and written anew.
                    guard once(&seen, 8) else { return false }
                    guard let text = p.text(depth: 1) else { return false }
                    if !text.isNull { result.outputText = text }
                } else if matches(key, "error") {
                    guard once(&seen, 16), let v = p.plainString(maxBytes: ResultBody.maxErrorBytes) else { return false }
                    if case .value(let s) = v { result.error = s }
                } else if matches(key, "retryable") {
                    guard once(&seen, 32), let v = p.plainBool() else { return false }
                    if case .value(let b) = v { result.retryable = b }
                } else {
                    return false
                }
                return true
            }
            p.skipSpace()
            guard read, p.i == p.b.count, seen & 7 == 7 else { return nil }
            return result
        }
    }

    /// `true` or `false`, or null; nil to give up.
    mutating func plainBool() -> Plain<Bool>? {
        guard i < b.count else { return nil }
        switch b[i] {
        case UInt8(ascii: "n"): return (try? literal("null")) != nil ? .null : nil
        case UInt8(ascii: "t"): return (try? literal("true")) != nil ? .value(true) : nil
        case UInt8(ascii: "f"): return (try? literal("false")) != nil ? .value(false) : nil
        default: return nil
        }
    }
}
