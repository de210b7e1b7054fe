import XCTest
@testable import BatonWeb

final class HistogramTextTests: XCTestCase {
    func testExactExposition() {
        var text = ""
        HistogramText.write(HistogramFamily(name: "baton_commit_duration_seconds", help: "How long each commit took.",
                                            histogram: .init(le: [0.001, 0.01, 1], counts: [20, 29, 29], count: 30, sum: 0.125)),
                            into: &text)
        XCTAssertEqual(text, """
            # HELP baton_commit_duration_seconds How long each commit took.
            # TYPE baton_commit_duration_seconds histogram
            baton_commit_duration_seconds_bucket{le="0.001"} 20
            baton_commit_duration_seconds_bucket{le="0.01"} 29
            baton_commit_duration_seconds_bucket{le="1"} 29
            baton_commit_duration_seconds_bucket{le="+Inf"} 30
            baton_commit_duration_seconds_sum 0.125
            baton_commit_duration_seconds_count 30

            """)
    }
}
