import FuzzSupport

/// Workflow spec validation on any JSON (the input is the `workflow` value of a SUBMIT):
/// a spec it accepts must respect the spec limits and survive `json` → parse unchanged,
/// since the broker stores `json` and compares specs by it for idempotency.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWorkflowSpec(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let value = try? JSONParser.parse(FuzzInput.bytes(data, size)),
          let spec = try? WorkflowSpec.parse(value) else { return 0 }
    fuzzCheck(!spec.blocks.isEmpty && spec.blocks.count <= WorkflowSpec.Limits.maxBlocks, "block count \(spec.blocks.count)")
    fuzzCheck(spec.jobCount <= WorkflowSpec.Limits.maxJobs, "job count \(spec.jobCount)")
    checkRoundTrip(spec.json)
    do {
        let again = try WorkflowSpec.parse(spec.json)
        fuzzCheck(again == spec, "spec changed through json: \(spec) vs \(again)")
    } catch {
        fuzzCheck(false, "an accepted spec's json is refused: \(error)")
    }
    return 0
}
