import XCTest
@testable import BatonWeb

final class HTMLTests: XCTestCase {
    func testInterpolatedTextIsEscapedAndLiteralsAreNot() {
        let name = "<b>\"a\" & 'b'</b>"
        let h: HTML = "<p title=\"\(name)\">\(name)</p>"
        XCTAssertEqual(h.text, "<p title=\"&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;\">&lt;b&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/b&gt;</p>")
    }

    func testMarkupInterpolatedAsHTMLPassesThroughOnce() {
        let inner: HTML = "<em>\("x<y")</em>"
        let outer: HTML = "<p>\(inner)</p>"
        XCTAssertEqual(outer.text, "<p><em>x&lt;y</em></p>")
    }

    func testJoinAndNumbers() {
        let parts: [HTML] = ["<li>\(1)</li>", "<li>\("&")</li>"]
        XCTAssertEqual(HTML.join(parts, separator: " ").text, "<li>1</li> <li>&amp;</li>")
    }

    func testEscapeKeepsOtherUnicode() {
        XCTAssertEqual(HTML.escape("é – ✓"), "é – ✓")
    }
}
