/// Strict UTF-8 decoding, as `String(validating:as:)` does it, without its cost.
///
/// Why: `String(validating:as:)` is generic and not inlinable, so each call looks up
/// type metadata and protocol conformances at run time: about 1,000 instructions per
/// string in the profile, 20 strings per one-job workflow (every key and string value
/// the JSON parser reads). `String(decoding:as: UTF8.self)` on a buffer is specialized,
/// but repairs invalid input instead of refusing it; so it is used when the bytes are
/// ASCII (always valid, the common case: keys, ids, types), and otherwise its result is
/// accepted only when its bytes are the input's (a repair would have changed them).
enum UTF8Text {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        var ascii = true
        for c in bytes where c >= 0x80 {
            ascii = false
            break
        }
        let s = String(decoding: bytes, as: UTF8.self)
        if ascii { return s }
        return s.utf8.elementsEqual(bytes) ? s : nil
    }

    static func decode(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBufferPointer { decode($0) }
    }
}
