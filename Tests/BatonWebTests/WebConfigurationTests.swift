import XCTest
@testable import BatonWeb

final class WebConfigurationTests: XCTestCase {
    func testListenAddresses() {
        XCTAssertEqual(WebConfiguration.parseListen("127.0.0.1:8080")?.port, 8080)
        XCTAssertEqual(WebConfiguration.parseListen("[::1]:0")?.host, "::1")
        XCTAssertNil(WebConfiguration.parseListen("8080"))
        XCTAssertNil(WebConfiguration.parseListen(":8080"))
        XCTAssertNil(WebConfiguration.parseListen("127.0.0.1:99999"))
    }
}
