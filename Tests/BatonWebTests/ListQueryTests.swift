import BatonWire
import XCTest
@testable import BatonWeb

final class ListQueryTests: XCTestCase {
    func testFiltersBecomeTheListRequest() throws {
        let q = try ListQuery(FormFields("state=running&name=deploy&limit=20&before=01ABC"))
        XCTAssertEqual(q.request, ListRequest(state: .running, name: "deploy", limit: 20, before: "01ABC"))
        XCTAssertEqual(q.link(before: "01XYZ"), "/workflows?state=RUNNING&name=deploy&limit=20&before=01XYZ")
    }

    func testEmptyBoxesAreNoFilter() throws {
        XCTAssertEqual(try ListQuery(FormFields("state=&name=")), ListQuery())
    }

    func testBadValuesNameTheirField() {
        for (query, field) in [("state=DONE", "state"), ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=201", "limit"),
                               ("name=" + String(repeating: "n", count: 201), "name")] {
            XCTAssertThrowsError(try ListQuery(FormFields(query)), query) { error in
                guard case .badParameter(let f, _)? = error as? WebError else { return XCTFail("\(error)") }
                XCTAssertEqual(f, field, query)
                XCTAssertEqual((error as? WebError)?.status, .badRequest)
            }
        }
    }
}
