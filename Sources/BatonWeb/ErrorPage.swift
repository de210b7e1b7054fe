/// The page for a `WebError`: its title, its sentence, and for a broker that is down what
/// to check. The dashboard itself keeps serving; the page says so.
enum ErrorPage {
    static func render(_ error: WebError, broker: String) -> HTML {
        let hint: HTML
        switch error {
        case .brokerUnreachable:
            hint = "<p>Is the broker running there? <code>baton ping --broker \(broker)</code> checks. This page works again as soon as the broker answers; reload it.</p>"
        case .busy:
            hint = "<p>Reload in a moment.</p>"
        case .brokerRefused(.forbidden, _):
            hint = "<p>This dashboard's key may not do that: STATS, LIMITS, STOP and RESUME need an admin key (<code>--curve-secret</code> of a key in the broker's admins allowlist).</p>"
        default:
            hint = .empty
        }
        return Layout.page(title: error.title, tab: .none, broker: broker, body: """
            <h1>\(error.title)</h1>
            <div class="notice error" id="error-message">\(error.message)</div>
            \(hint)
            <p><a href="/">Overview</a> · <a href="/workflows">Workflows</a></p>
            """)
    }
}
