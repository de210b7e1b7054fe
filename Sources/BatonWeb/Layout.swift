/// The page shell: head, navigation, the page's body. Styles and the live-update script
/// are files of their own (`Assets`), so the Content-Security-Policy can forbid inline
/// scripts.
enum Layout {
    enum Tab: String {
        case overview, workflows, workers, none
    }

    /// `refreshSeconds`: the live script reloads the page that often, unless the reader is
    /// typing in one of its forms (the overview and workers pages: STATS is cheap).
    static func page(title: String, tab: Tab, broker: String, body: HTML, refreshSeconds: Int? = nil) -> HTML {
        let refresh: HTML = refreshSeconds.map { " data-refresh=\"\($0)\"" } ?? .empty
        return """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Baton</title>
        <link rel="stylesheet" href="/static/baton.css">
        <script src="/static/live.js" defer></script>
        </head>
        <body\(refresh)>
        <header class="top">
        <a class="brand" href="/">Baton</a>
        <nav>\(navLink("/", "Overview", tab == .overview))\(navLink("/workflows", "Workflows", tab == .workflows))\(navLink("/workers", "Workers", tab == .workers))<a href="/metrics">Metrics</a></nav>
        <span class="broker" title="the broker this dashboard is a client of">\(broker)</span>
        </header>
        <main>
        \(body)
        </main>
        </body>
        </html>
        """
    }

    private static func navLink(_ href: String, _ label: String, _ current: Bool) -> HTML {
        current ? "<a href=\"\(href)\" aria-current=\"page\">\(label)</a>" : "<a href=\"\(href)\">\(label)</a>"
    }

    /// A state word as a coloured badge.
    static func badge(_ state: String) -> HTML {
        "<span class=\"badge \(Format.stateClass(state))\">\(state)</span>"
    }

    /// A notice box; `kind` is one of this module's CSS classes (info, warn, error).
    static func notice(_ kind: String, _ text: HTML) -> HTML {
        "<div class=\"notice \(kind)\" role=\"status\">\(text)</div>"
    }

    /// A value that may be long (an output, an error): shown cut, whole in a <details>.
    static func longText(_ text: String, cutAt: Int = 120) -> HTML {
        guard text.count > cutAt || text.contains("\n") else { return "<code>\(text)</code>" }
        let first = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        let summary = first.count > cutAt ? String(first.prefix(cutAt)) + "…" : first + " …"
        return "<details><summary><code>\(summary)</code></summary><pre>\(text)</pre></details>"
    }
}
