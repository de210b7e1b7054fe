@_exported import BatonWire

/// How a fuzz input becomes what the decoders take.
///
/// Multipart targets split the input into frames at every 0x1F byte (ASCII "unit
/// separator"). JSON never holds a raw 0x1F (control characters in strings must be
/// escaped), so a corpus file reads as the frames it stands for, and libFuzzer's byte
/// mutations add, drop and merge frames as easily as they change bytes. The cost: a
/// fuzzed tag or command never contains 0x1F, which no decoder treats specially.
public enum FuzzInput {
    public static let frameSeparator: UInt8 = 0x1F

    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }

    public static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.split(separator: frameSeparator, omittingEmptySubsequences: false).map(Array.init)
    }
}

/// A property the decoders promise was broken: stop the run so libFuzzer keeps the input.
/// (A thrown decode error is never a finding; only a crash, a sanitizer report or a
/// broken round trip is.)
public func fuzzCheck(_ holds: Bool, _ what: @autoclosure () -> String) {
    if !holds { fatalError("fuzz property broken: \(what())") }
}

/// Values the broker parses must write back and read back unchanged: the writer's output
/// is what replies, STATUS and the store carry, so a value that does not survive the
/// round trip would be stored or shown differently from what was accepted.
public func checkRoundTrip(_ value: JSONValue) {
    let written = JSONWriter.bytes(value)
    do {
        let reread = try JSONParser.parse(written)
        fuzzCheck(reread == value, "round trip changed \(value) into \(reread)")
    } catch {
        fuzzCheck(false, "the writer's output does not parse: \(error) in \(String(decoding: written, as: UTF8.self))")
    }
}
