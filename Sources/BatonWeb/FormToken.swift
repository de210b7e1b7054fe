import Foundation
import Hummingbird

/// Cross-site request forgery protection for the POST forms: two checks, both required.
///
/// - A per-process random token in every form (`token`), compared in constant time. A
///   page of another site cannot read it (same-origin policy), so it cannot forge a form.
/// - When the browser sends `Origin` (every current one does on POST), it must be this
///   server's own (`Host`), so a token leaked into another site's page still fails.
struct FormToken: Sendable {
    let value: String

    init() {
        var rng = SystemRandomNumberGenerator()
        value = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &rng)) }.joined()
    }

    init(value: String) { self.value = value }

    func check(form: FormFields, origin: String?, host: String?) throws(WebError) {
        guard let sent = form["token"], Self.equal(sent, value) else {
            throw .forbiddenForm("token: missing or stale (reload the page and try again)")
        }
        if let origin, origin != "null" {
            let bare = origin.split(separator: "://", maxSplits: 1).last.map(String.init) ?? origin
            guard let host, bare == host else {
                throw .forbiddenForm("Origin \(origin) is not this dashboard (\(host ?? "no Host"))")
            }
        }
    }

    /// Same length and every byte compared, whatever the first difference.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<x.count { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}
