import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// `/runs/{id}`: the morning report of a run (`latest` names the newest). A run that ended is
/// served from its `report.html`; one still going (or ended before reports existed) is built
/// from the store as of now. `/runs/{id}/report.md` and `/runs/{id}/report.json` likewise.
struct ReportPages {
    let env: ServiceEnvironment
    let dashboard: DashboardRoutes

    func register(_ r: RouteRecorder) {
        r.page(.get, "/runs/{id}") { request, context in try await serve(request, context, format: "html") }
        r.page(.get, "/runs/{id}/report.md") { request, context in try await serve(request, context, format: "md") }
        r.page(.get, "/runs/{id}/report.json") { request, context in try await serve(request, context, format: "json") }
    }

    func serve(_ request: Request, _ context: APIContext, format: String) async throws -> Response {
        guard dashboard.auth.signedIn(request) else {
            guard format == "html" else { throw DashboardRoutes.unauthorized }
            return DashboardRoutes.redirect("/dashboard/login?" + FormBody.encode([("next", request.uri.path)]))
        }
        do {
            return try await report(context, format: format)
        } catch  where format == "html" {
            return dashboard.errorPage(error, client: .init(csrf: "", newID: nil))
        }
    }

    func report(_ context: APIContext, format: String) async throws -> Response {
        let catalog = RunCatalog(paths: env.paths)
        let id: String
        do { id = try catalog.resolve(context.parameters.get("id") ?? "") } catch {
            switch error {
            case .malformed(let why): throw Problem.invalid("id", why)
            default: throw Problem.notFound(error.description)
            }
        }
        let run = env.paths.run(id)
        let file = format == "html" ? run.reportHTML : format == "md" ? run.reportMarkdown : run.reportJSON
        let info = try? RunFiles(paths: run).read()
        let text: String
        if info?.endedAt != nil, let saved = try? String(contentsOfFile: file, encoding: .utf8) {
            text = saved
        } else {
            guard let info, let store = env.store as? any RunStore else {
                throw Problem.notFound("run \(id) has no report yet")
            }
            let files = try RunFiles(paths: run)
            let reporter = RunReporter(
                store: store, paths: env.paths, files: files, gates: env.config.report.gates, budget: env.config.budget)
            let summary = try await reporter.summary(info: info, now: env.now())
            let report = try await MorningReportWriter(store: store, paths: env.paths).build(summary: summary, now: env.now())
            switch format {
            case "html": text = report.html()
            case "md": text = report.markdown()
            default: text = String(decoding: try JSONEncoder.nightshift().encode(report), as: UTF8.self)
            }
        }
        let type =
            format == "html" ? "text/html; charset=utf-8" : format == "md" ? "text/markdown; charset=utf-8" : "application/json"
        return Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
