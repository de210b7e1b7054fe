import FuzzSupport

/// A worker message as the broker's ROUTER hands it over (frames after the routing id),
/// then the body type the broker reads for its command.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkerFrames(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let frames = FuzzInput.frames(FuzzInput.bytes(data, size))
    guard let message = try? WorkerFrames.decode(frames[...]) else { return 0 }
    fuzzCheck(frames.count == 4 && frames[0].isEmpty && frames[1] == WorkerFrames.protocolId, "accepted \(frames)")
    checkRoundTrip(.object(message.body))
    switch message.command {
    case .ready:
        if let ready = try? ReadyBody(body: message.body) {
            fuzzCheck(!ready.types.isEmpty && ready.types.count <= ReadyBody.maxTypes, "READY types \(ready.types.count)")
            fuzzCheck((0...ReadyBody.maxCapacity).contains(ready.capacity), "READY capacity \(ready.capacity)")
        }
    case .result:
        if let result = try? ResultBody(body: message.body) {
            fuzzCheck(result.attempt >= 1, "RESULT attempt \(result.attempt)")
            fuzzCheck((try? ResultBody(body: result.body)) == result, "RESULT body round trip")
        }
    case .progress:
        if let progress = try? ProgressBody(body: message.body) {
            fuzzCheck(progress.attempt >= 1, "PROGRESS attempt \(progress.attempt)")
            fuzzCheck((try? ProgressBody(body: progress.body)) == progress, "PROGRESS body round trip")
        }
    case .job: _ = try? JobBody(body: message.body)
    case .cancel: _ = try? CancelJobBody(body: message.body)
    case .heartbeat, .disconnect: break
    }
    return 0
}
