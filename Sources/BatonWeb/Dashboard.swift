import BatonClient
import BatonWire
import Foundation
import Hummingbird
import Logging

/// The dashboard's routes and the state they share: the broker connection pools, the
/// form token, the exporter, the last STATS sample (for rates). Every broker call goes
/// through a pool, never on an event loop; every failure becomes a page that says what
/// failed, and the server keeps serving.
///
/// Nothing here changes anything at the broker except the three POST routes: cancel a
/// workflow, stop, go.
public final class Dashboard: Sendable {
    let config: WebConfiguration
    let requests: BrokerPool
    let actions: BrokerPool
    let metricsPool: BrokerPool
    let live: LiveEvents
    let livePool: BrokerPool
    let exporter: PrometheusExporter
    let token: FormToken
    private let lastStats = LockedValue<StatsSnapshot?>(nil)

    public init(_ config: WebConfiguration, logger: Logger, token: String? = nil) {
        self.config = config
        let make = { (attempts: Int) -> @Sendable () throws -> BatonClient in
            { try BatonClient(endpoint: config.broker, timeoutMs: config.timeoutMs, attempts: attempts, curve: config.curve) }
        }
        // Page reads make one try of timeoutMs: a reader reloads, and a broker that is down
        // shows as such after one timeout, not after every retry. Actions keep the retries
        // (each is safe to resend, and STOP should be resent until it is in force, §4.3.8).
        requests = BrokerPool(name: "pages", endpoint: config.broker, threads: config.requestThreads,
                              queueLimit: config.requestThreads * 16, make: make(1))
        actions = BrokerPool(name: "actions", endpoint: config.broker, threads: 2, queueLimit: 16, make: make(config.retries))
        // Scrapes have their own connection, so a slow page never delays one.
        metricsPool = BrokerPool(name: "metrics", endpoint: config.broker, threads: 1, queueLimit: 8, make: make(1))
        livePool = BrokerPool(name: "live", endpoint: config.broker, threads: config.liveThreads,
                              queueLimit: config.liveThreads, make: make(config.retries))
        live = LiveEvents(pool: livePool, limit: config.liveThreads)
        exporter = PrometheusExporter(logger: logger)
        self.token = token.map(FormToken.init(value:)) ?? FormToken()
    }

    public func shutdown() {
        requests.shutdown()
        actions.shutdown()
        metricsPool.shutdown()
        livePool.shutdown()
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/") { request, _ in await self.page { try await self.overview(request) } }
        router.get("/workflows") { request, _ in await self.page { try await self.workflows(request) } }
        router.get("/workflows/:id") { request, context in
            await self.page { try await self.workflow(request, id: try self.id(context)) }
        }
        router.get("/workflows/:id/events") { request, context in
            await self.page { try self.events(request, id: try self.id(context)) }
        }
        router.post("/workflows/:id/cancel") { request, context in
            await self.page { try await self.cancel(request, id: try self.id(context)) }
        }
        router.post("/stop") { request, _ in await self.page { try await self.stop(request) } }
        router.post("/go") { request, _ in await self.page { try await self.go(request) } }
        router.get("/workers") { _, _ in await self.page { try await self.workers() } }
        router.get("/metrics") { _, _ in await self.metrics() }
        router.get("/static/baton.css") { _, _ in
            Responses.text(Assets.css, contentType: "text/css; charset=utf-8", cache: "max-age=300")
        }
        router.get("/static/live.js") { _, _ in
            Responses.text(Assets.js, contentType: "text/javascript; charset=utf-8", cache: "max-age=300")
        }
        router.get("/healthz") { _, _ in Responses.text("ok\n", contentType: "text/plain; charset=utf-8") }
        return router
    }

    // MARK: Pages

    private func overview(_ request: Request) async throws(WebError) -> Response {
        let notice = try Self.notice(try query(request))
        async let stats = result { () async throws(WebError) in try await self.readStats(self.requests) }
        async let limits = result { () async throws(WebError) in try await self.requests.call { try $0.limits() } }
        let (s, l) = await (stats, limits)
        var throughput: Throughput?
        if case .success(let snapshot) = s {
            throughput = Throughput(from: lastStats.exchange(snapshot), to: snapshot)
        }
        let page = OverviewPage(broker: config.broker, stats: s, limits: l, throughput: throughput, token: token.value,
                                notice: notice, now: Format.nowMs())
        // A broker that is down is the page's news, not a failure of the page: 503 so a
        // probe sees it, with the whole page.
        let down = Self.unreachable(s.failure) || Self.unreachable(l.failure)
        return Responses.html(page.render(), status: down ? .serviceUnavailable : .ok)
    }

    private func workflows(_ request: Request) async throws(WebError) -> Response {
        let q = try ListQuery(try query(request))
        let listRequest = q.request
        let page = try await requests.call { try $0.list(listRequest) }
        return Responses.html(WorkflowsPage(broker: config.broker, query: q, page: page, now: Format.nowMs()).render())
    }

    private func workflow(_ request: Request, id: String) async throws(WebError) -> Response {
        let f = try query(request)
        var from = 0
        if let text = f.nonEmpty("from") {
            guard let n = Int(text), n >= 0, n <= Int(Int32.max) else {
                throw .badParameter(field: "from", "a job position, a whole number ≥ 0")
            }
            from = n
        }
        let notice = try Self.notice(f)
        let start = from
        let view = try await requests.call { try WorkflowView.read(id, from: start, client: $0) }
        let page = WorkflowPage(broker: config.broker, view: view, token: token.value, notice: notice, now: Format.nowMs())
        return Responses.html(f["fragment"] == "1" ? page.body() : page.render())
    }

    private func events(_ request: Request, id: String) throws(WebError) -> Response {
        let f = try query(request)
        var after: Int64 = 0
        // A reconnecting EventSource names the last event it got; it wins over the URL's.
        if let text = request.headers[.init("Last-Event-ID")!] ?? f.nonEmpty("after") {
            guard let n = Int64(text), n >= 0 else { throw .badParameter(field: "after", "an event seq, a whole number ≥ 0") }
            after = n
        }
        return live.response(id: id, after: after)
    }

    private func workers() async throws(WebError) -> Response {
        let stats = try await readStats(requests)
        return Responses.html(WorkersPage(broker: config.broker, stats: stats, now: Format.nowMs()).render())
    }

    private func metrics() async -> Response {
        let started = DispatchTime.now().uptimeNanoseconds
        let stats = try? await readStats(metricsPool)
        let took = Int64(DispatchTime.now().uptimeNanoseconds - started)
        return Responses.text(exporter.render(stats, scrapeNanoseconds: took),
                              contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: Actions (the only routes that change anything)

    private func cancel(_ request: Request, id: String) async throws(WebError) -> Response {
        _ = try await form(request)
        _ = try await actions.call { try $0.cancel(id) }
        return Responses.seeOther(URLPart.link(URLPart.workflow(id), [("notice", "cancelled")]))
    }

    private func stop(_ request: Request) async throws(WebError) -> Response {
        let f = try await form(request)
        let name = try Self.stopName(f)
        guard let reason = f.nonEmpty("reason"), reason.utf8.count <= StopRequest.maxReasonBytes else {
            throw .badParameter(field: "reason", "required, at most \(StopRequest.maxReasonBytes) bytes")
        }
        try Self.confirmed(f)
        let n = try await actions.call { try $0.stop(name: name, reason: reason) }
        return Responses.seeOther(URLPart.link("/", [("notice", "stopped"), ("n", String(n))]))
    }

    private func go(_ request: Request) async throws(WebError) -> Response {
        let f = try await form(request)
        let name = try Self.stopName(f)
        try Self.confirmed(f)
        try await actions.call { try $0.resume(name: name) }
        return Responses.seeOther(URLPart.link("/", [("notice", "lifted")]))
    }

    // MARK: Helpers

    /// Runs a route, turning its error into a page (every route throws `WebError`s; the
    /// closure's type cannot say so for the router's closures).
    private func page(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            let web = (error as? WebError) ?? .badReply("\(error)")
            return Responses.html(ErrorPage.render(web, broker: config.broker), status: web.status)
        }
    }

    private static func unreachable(_ e: WebError?) -> Bool {
        if case .brokerUnreachable? = e { return true }
        return false
    }

    private func result<T>(_ body: () async throws(WebError) -> T) async -> Result<T, WebError> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    private func readStats(_ pool: BrokerPool) async throws(WebError) -> StatsSnapshot {
        let body = try await pool.call { try $0.stats() }
        return try StatsSnapshot(json: body)
    }

    private func id(_ context: BasicRequestContext) throws(WebError) -> String {
        guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else {
            throw .badParameter(field: "id", "a workflow id (at most 128 bytes)")
        }
        return id
    }

    private func query(_ request: Request) throws(WebError) -> FormFields {
        try FormFields(request.uri.query ?? "")
    }

    /// A POSTed form, checked against the form token and the origin.
    private func form(_ request: Request) async throws(WebError) -> FormFields {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: 16 * 1024)
        } catch {
            throw .badParameter(field: "body", "a form of at most 16 KiB")
        }
        let f = try FormFields(String(buffer: buffer))
        try token.check(form: f, origin: request.headers[.origin], host: request.head.authority)
        return f
    }

    static func stopName(_ f: FormFields) throws(WebError) -> String {
        guard let name = f.nonEmpty("name")?.trimmingCharacters(in: .whitespaces), !name.isEmpty,
              name.utf8.count <= WorkflowSpec.Limits.maxNameBytes else {
            throw .badParameter(field: "name", "a workflow name or * (every name), at most \(WorkflowSpec.Limits.maxNameBytes) bytes")
        }
        return name
    }

    static func confirmed(_ f: FormFields) throws(WebError) {
        guard f["confirm"] == "yes" else { throw .badParameter(field: "confirm", "tick the box to confirm") }
    }

    /// The notice a redirect after an action asks for: a fixed sentence per code, so
    /// nothing from the URL is echoed into the page.
    static func notice(_ f: FormFields) throws(WebError) -> HTML? {
        switch f["notice"] {
        case nil: return nil
        case "cancelled": return Layout.notice("info", "Cancel sent: the workflow is CANCELLED unless it had already finished.")
        case "lifted": return Layout.notice("info", "Stop lifted. STOPPED workflows stay STOPPED until EXEC (baton resume).")
        case "stopped":
            guard let n = f["n"].flatMap(Int.init) else { throw .badParameter(field: "n", "a count") }
            return Layout.notice("info", "Emergency stop in force: \(n) RUNNING workflow(s) moved to STOPPED.")
        case let other?:
            throw .badParameter(field: "notice", "unknown notice \"\(other)\"")
        }
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let e) = self { return e }
        return nil
    }
}
