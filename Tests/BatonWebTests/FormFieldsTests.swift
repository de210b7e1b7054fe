import XCTest
@testable import BatonWeb

final class FormFieldsTests: XCTestCase {
    func testDecodesPlusAndPercentAndKeepsFirstValue() throws {
        let f = try FormFields("name=nightly+backup%2Fdb&state=&name=second&x=%C3%A9")
        XCTAssertEqual(f["name"], "nightly backup/db")
        XCTAssertEqual(f["state"], "")
        XCTAssertNil(f.nonEmpty("state"))
        XCTAssertEqual(f["x"], "é")
    }

    func testBadEscapeNamesTheField() {
        XCTAssertThrowsError(try FormFields("reason=50%ZZ")) { error in
            XCTAssertEqual(error as? WebError, .badParameter(field: "reason", "bad %-escape"))
        }
    }

    func testInvalidUTF8NamesTheField() {
        XCTAssertThrowsError(try FormFields("name=%FF")) { error in
            XCTAssertEqual(error as? WebError, .badParameter(field: "name", "not valid UTF-8"))
        }
    }
}
