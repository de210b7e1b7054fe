import BatonConfig
import XCTest

final class NamePatternTests: XCTestCase {
    func testExactAndGlobMatching() {
        let cases: [(pattern: String, name: String, matches: Bool)] = [
            ("satellite-disk-erase", "satellite-disk-erase", true),
            ("satellite-disk-erase", "satellite-disk-erase-2", false),
            ("satellite-*", "satellite-", true),
            ("satellite-*", "satellite-disk-erase", true),
            ("satellite-*", "satellite", false),
            ("satellite-*", "xsatellite-a", false),
            ("*", "", true),
            ("*", "anything", true),
            ("*-erase", "disk-erase", true),
            ("*-erase", "disk-erase-now", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("a*b*c", "abcbc", true),
            ("db-?", "db-1", true),
            ("db-?", "db-12", false),
            ("db-?", "db-", false),
            ("??", "é1", true),
            ("a.b", "aXb", false),
            ("**x", "x", true),
        ]
        for c in cases {
            XCTAssertEqual(NamePattern(c.pattern).matches(c.name), c.matches, "\(c.pattern) vs \(c.name)")
        }
    }
}
