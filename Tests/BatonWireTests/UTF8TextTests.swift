import XCTest

@testable import BatonWire

/// `UTF8Text.decode` must accept and refuse exactly what `String(validating:as:)` does.
final class UTF8TextTests: XCTestCase {
    func testAgreesWithTheStandardLibraryOnRandomBytes() {
        var rng = SystemRandomNumberGenerator()
        // Bytes drawn mostly from the ranges where UTF-8 goes wrong: lead bytes,
        // continuation bytes, the surrogate and overlong leads, and plain ASCII.
        let pool: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xA0, 0x9F, 0x8F, 0x90]
        for _ in 0..<20_000 {
            let bytes = (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                Bool.random(using: &rng) ? pool.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            }
            XCTAssertEqual(UTF8Text.decode(bytes), String(validating: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    func testValidTextOfEveryWidth() {
        for text in ["", "ascii only", "déploiement", "日本語", "emoji 🚀 and \u{10FFFF}", "\u{FFFD} is valid too"] {
            XCTAssertEqual(UTF8Text.decode(Array(text.utf8)), text)
        }
    }
}
