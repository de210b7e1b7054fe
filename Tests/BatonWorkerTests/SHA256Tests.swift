import XCTest

@testable import BatonWorker

/// The NIST FIPS 180-4 examples (csrc.nist.gov, "SHA256.pdf" and the SHAVS long message).
final class SHA256Tests: XCTestCase {
    func testEmptyMessage() {
        XCTAssertEqual(SHA256.hex([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    func testAbc() {
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// 448 bits: the padding no longer fits the block, so a second block is needed.
    func testTwoBlockMessage() {
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testOneMillionA() {
        XCTAssertEqual(SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testDigestIs32Bytes() {
        XCTAssertEqual(SHA256.digest(Array("abc".utf8)).count, 32)
        XCTAssertEqual(SHA256.digest(Array("abc".utf8)).prefix(4), [0xba, 0x78, 0x16, 0xbf])
    }
}
