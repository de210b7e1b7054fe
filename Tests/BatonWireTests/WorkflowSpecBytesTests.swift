import XCTest

@testable import BatonWire

/// `writeJSON` must give exactly the bytes of the canonical tree it replaces (the store
/// keeps them, and idempotency compares specs by them), for every shape of spec.
final class WorkflowSpecBytesTests: XCTestCase {
    private let random = RandomSpecs()

    func testTheBytesAreTheTrees() throws {
        for _ in 0..<500 {
            let spec = random.spec()
            var bytes: [UInt8] = []
            spec.writeJSON(into: &bytes)
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), String(decoding: JSONWriter.bytes(spec.json), as: UTF8.self))
            XCTAssertEqual(try WorkflowSpec.parse(JSONParser.parse(bytes)), spec, "read back as the same spec")
        }
    }
}
