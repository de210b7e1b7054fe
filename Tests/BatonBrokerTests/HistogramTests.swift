import BatonWire
import XCTest

@testable import BatonBroker

final class HistogramTests: XCTestCase {
    func testCountsAreCumulativeWithTheRestAboveTheLastBound() {
        var h = Histogram(bounds: [1, 10, 100])
        for v in [0.5, 1, 3, 10, 99, 1000] { h.observe(v) }
        XCTAssertEqual(h.json, ["le": [.double(1), .double(10), .double(100)], "counts": [2, 4, 5], "count": 6, "sum": .double(1113.5)])
    }

    func testAnEmptyHistogramHasZeroes() {
        XCTAssertEqual(Histogram(bounds: [1]).json, ["le": [.double(1)], "counts": [0], "count": 0, "sum": .double(0)])
    }
}
