import FuzzSupport

/// The body parser on arbitrary bytes: it must return or throw, never crash, recurse
/// past its depth limit or read out of bounds; what it accepts must round-trip through
/// the writer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    if let value = try? JSONParser.parse(bytes) { checkRoundTrip(value) }
    if let body = try? decodeBody(bytes) { checkRoundTrip(.object(body)) }
    return 0
}
