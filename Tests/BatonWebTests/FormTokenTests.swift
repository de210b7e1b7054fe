import XCTest
@testable import BatonWeb

final class FormTokenTests: XCTestCase {
    private let token = FormToken(value: "abc123")

    func testTheRightTokenFromThisOriginPasses() throws {
        try token.check(form: FormFields(values: ["token": "abc123"]), origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080")
        try token.check(form: FormFields(values: ["token": "abc123"]), origin: nil, host: "127.0.0.1:8080")
    }

    func testAMissingOrWrongTokenIsRefused() {
        XCTAssertThrowsError(try token.check(form: FormFields(values: [:]), origin: nil, host: "h"))
        XCTAssertThrowsError(try token.check(form: FormFields(values: ["token": "abc124"]), origin: nil, host: "h"))
    }

    func testAnotherOriginIsRefusedEvenWithTheToken() {
        XCTAssertThrowsError(try token.check(form: FormFields(values: ["token": "abc123"]), origin: "https://evil.example", host: "127.0.0.1:8080")) {
            XCTAssertEqual(($0 as? WebError)?.status, .forbidden)
        }
    }

    func testTokensAreFreshPerProcess() {
        XCTAssertNotEqual(FormToken().value, FormToken().value)
        XCTAssertEqual(FormToken().value.count, 32)
    }
}
