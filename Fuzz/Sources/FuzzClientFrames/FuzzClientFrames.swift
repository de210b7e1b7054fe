import FuzzSupport

/// A client request as the broker's ROUTER hands it over (frames after the routing id),
/// through the same steps the broker takes: frame checks, then the command's body type.
/// Only a crash or a broken promise of the decoder is a finding, never a thrown error.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzClientFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let frames = FuzzInput.frames(FuzzInput.bytes(data, size))
    // A small limit, so `too_large` is reachable by inputs libFuzzer keeps small.
    let maxBytes = 2048
    let request: ClientFrames.Request
    do {
        request = try ClientFrames.decodeRequest(frames[...], maxBytes: maxBytes)
    } catch {
        // The tag is echoed only when frame 3 exists and is within the tag limit.
        let tagOK = frames.count > 3 && frames[3].count <= ClientFrames.maxTagBytes
        fuzzCheck(error.tag == (tagOK ? frames[3] : []), "echoed tag \(error.tag) for frames \(frames)")
        return 0
    }
    fuzzCheck(frames.count == 5 && frames[0].isEmpty, "accepted \(frames.count) frames")
    fuzzCheck(frames.reduce(0) { $0 + $1.count } <= maxBytes, "accepted a request over the limit")
    fuzzCheck(request.tag == frames[3], "tag changed")
    checkRoundTrip(.object(request.body))
    decodeBody(of: request)
    return 0
}

/// The typed body each command's handler parses; errors are expected and ignored.
private func decodeBody(of request: ClientFrames.Request) {
    let body = request.body
    switch request.command {
    case .submit:
        if let submit = try? SubmitRequest(body: body) {
            fuzzCheck((try? SubmitRequest(body: submit.body.objectValue ?? [:])) == submit, "SUBMIT body round trip")
        }
    case .exec, .status, .cancel: _ = try? WorkflowRef(body: body)
    case .watch: _ = try? WatchRequest(body: body)
    case .list: _ = try? ListRequest(body: body)
    case .stop: _ = try? StopRequest(body: body)
    case .resume: _ = try? ResumeRequest(body: body)
    case .backup: _ = try? BackupRequest(body: body)
    case .ping, .limits, .stats: break
    }
}
