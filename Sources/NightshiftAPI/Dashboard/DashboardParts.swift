import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime

/// The parts of the dashboard that update live. Each is one element with a fixed id, rendered
/// by the same template for the first page and for `GET /dashboard/fragments/{part}`, which the
/// page's script fetches when the event stream says the part changed and swaps in whole: every
/// byte of it is server-rendered and escaped, and the part shows exactly what a reload would.
enum DashboardPart: String, CaseIterable, Sendable {
    case counts, needs, running, pending, finished, items, issues, runs

    /// The id of the element the part is.
    var elementID: String {
        switch self {
        case .counts: return "counts"
        case .needs: return "needs-you"
        case .running, .pending, .finished: return "sec-\(rawValue)"
        case .items, .issues, .runs: return rawValue
        }
    }

    var section: DashboardSection? { DashboardSection(rawValue: rawValue) }
}

extension DashboardSection {
    var part: DashboardPart { DashboardPart(rawValue: rawValue)! }
}

extension DashboardRoutes {
    /// One part's HTML under the page's filter.
    func render(_ part: DashboardPart, _ data: DashboardData, filter: DashboardFilter, client: Client) -> String {
        switch part {
        case .counts:
            return DashboardTemplates.render("counts", ["counts": Self.counts(data.counts)])
        case .needs:
            return DashboardTemplates.render(
                "needs",
                ["needs": data.needs, "hasNeeds": !data.needs.isEmpty, "total": "\(data.needs.count)", "csrf": client.csrf])
        case .running, .pending, .finished:
            let s = part.section!
            let rows = data.sections[s] ?? []
            let total = data.totals[s] ?? 0
            return DashboardTemplates.render(
                "section",
                [
                    "name": s.rawValue, "title": s.title, "total": "\(total)", "limit": "\(s.limit)",
                    "more": total > rows.count && !rows.isEmpty, "shown": "\(rows.count)",
                    "headers": s.columns.map(\.header), "rows": rows.map { s.row($0, data.context) },
                    "hidden": !s.statuses.contains(where: filter.allows),
                ])
        case .items:
            return DashboardTemplates.render(
                "items", ["items": data.items, "itemsSummary": data.itemsSummary, "total": "\(data.itemsTotal)"])
        case .issues:
            return DashboardTemplates.render("issues", ["issues": data.issues, "total": "\(data.issues.count)"])
        case .runs:
            return DashboardTemplates.render("runs", ["runs": data.runs, "total": "\(data.runsTotal)"])
        }
    }

    /// `GET /dashboard/fragments/{part}?<filter>`: one part as the page would draw it now.
    /// Errors are problem+json (the page's script reads it): 401 without a session, 404 for an
    /// unknown part, 422 for a bad filter.
    func fragment(_ request: Request, part name: String) async throws -> Response {
        guard auth.signedIn(request) else { throw Self.unauthorized }
        guard let part = DashboardPart(rawValue: name) else {
            throw Problem.notFound(
                "no dashboard part \(name) (parts: \(DashboardPart.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let filter = try DashboardFilter.parse(request.queryDictionary, knownTypes: env.config.allTaskTypes)
        let (cid, _) = auth.clientID(request)
        let client = Client(csrf: auth.csrfToken(client: cid), newID: nil)
        let data = try await DashboardData.load(env: env, views: views, filter: filter, parts: [part])
        return Self.html(render(part, data, filter: filter, client: client))
    }
}
