import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// The task page, and the buttons that change a task: decide, cancel, retry, one at a time or
/// for everything a filter matches.
enum TaskAction: String, CaseIterable, Sendable {
    case decide, cancel, retry
}

extension DashboardRoutes {
    /// Log lines shown on the task page.
    static let logLines = 400
    /// Lines that the page marks as errors (for "next error").
    static let errorLine = try! NSRegularExpression(
        pattern: #"\b(error|fatal|panic|exception|failed|traceback)\b"#, options: [.caseInsensitive])

    func taskPage(
        _ request: Request, _ id: String, _ client: Client, summaryOnly: Bool = false
    ) async throws -> (
        title: String, html: String, extra: [String: Any]
    ) {
        // Read before the task, so the stream replays anything that changes while it renders.
        let lastEvent = try await env.store.lastEventID()
        let t = try await env.store.get(id)
        let events = try await env.store.events(taskID: id)
        let now = env.now()
        func time(_ d: Date?) -> String { d.map(Timestamp.format) ?? "—" }
        var fields: [(String, String)] = [
            ("type", t.taskType.rawValue), ("item", t.backlogItem ?? "—"), ("phase", t.phase ?? "—"),
            ("iteration", t.iteration.map(String.init) ?? "—"), ("attempt", "\(t.attempt) of \(t.maxAttempts)"),
            ("priority", "\(t.priority)"), ("executor", t.executor ?? "—"), ("run", t.runID ?? "—"),
            ("created", time(t.createdAt)), ("started", time(t.startedAt)), ("finished", time(t.finishedAt)),
            ("heartbeat", time(t.heartbeatAt)), ("not before", time(t.notBefore)), ("pid", t.pid.map(String.init) ?? "—"),
            ("tokens", "\(t.tokensIn ?? 0) in / \(t.tokensOut ?? 0) out"),
            ("cost", t.costUSD.map { String(format: "%.4f USD", $0) } ?? "—"),
        ]
        if let e = t.errorClass { fields.append(("error class", e)) }
        if let e = t.error { fields.append(("error", e)) }
        if let c = t.exitCode { fields.append(("exit code", "\(c)")) }
        if let s = t.summary { fields.append(("summary", s)) }
        if let v = t.verdict { fields.append(("verdict", v + (t.feedback.map { ": \($0)" } ?? ""))) }
        if !t.dependsOn.isEmpty { fields.append(("depends on", t.dependsOn.joined(separator: ", "))) }
        let attempts: [[String: Any]] = AttemptSpan.from(events, taskID: id).map { a in
            [
                "n": "\(a.attempt)", "started": time(a.startedAt ?? a.claimedAt), "ended": time(a.endedAt),
                "took": RunSummary.formatMS(Int(a.runSeconds(now: now) * 1000)),
                "outcome": a.endedAt == nil ? "running" : a.outcome.rawValue, "why": a.reason ?? "",
            ]
        }
        let history: [[String: Any]] = events.map { e in
            [
                "id": "\(e.id)", "at": Timestamp.format(e.at), "kind": e.kind.rawValue, "from": e.fromStatus?.rawValue ?? "—",
                "to": e.toStatus.rawValue, "attempt": "\(e.attempt)",
                "detail": e.detail.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.stringValue ?? $0.value.jsonText)" }
                    .joined(separator: " "),
            ]
        }
        var v: [String: Any] = [
            "id": t.id, "status": t.status.rawValue, "fields": fields.map { ["name": $0.0, "value": $0.1] },
            "direction": t.direction, "attempts": attempts, "events": history, "csrf": client.csrf,
            "canDecide": t.status == .needsDecision, "canCancel": !t.status.isTerminal, "canRetry": t.status == .failed,
        ]
        if let p = t.decisionPrompt { v["decisionPrompt"] = p }
        if let d = t.decision { v["decisionGiven"] = d }
        if !summaryOnly {
            let path = t.logPath ?? env.paths.taskLog(id)
            v["logPath"] = path
            let text = LogTail.lastLines(of: path, count: Self.logLines) ?? ""
            v["logLines"] = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> [String: Any] in
                let s = String(line)
                let err = Self.errorLine.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
                return ["text": s, "err": err]
            }
        }
        var extra: [String: Any] = ["page": "task", "taskID": t.id, "stream": true]
        extra["lastEvent"] = "\(lastEvent)"
        if logs != nil { extra["logRun"] = t.runID ?? "latest" }
        return ("Task \(t.id)", DashboardTemplates.render("task", v), extra)
    }

    // MARK: - Actions

    /// Whether the script sent the form (then the answer is JSON or problem+json, not a redirect).
    static func fromScript(_ request: Request) -> Bool { request.headers[HTTPField.Name("X-Requested-With")!] == "fetch" }

    /// Checks the session and the CSRF token of a form post; returns the form.
    func checkedForm(_ request: Request) async throws -> [String: String] {
        guard auth.signedIn(request) else { throw Self.unauthorized }
        let form = try await FormBody.parse(request, limit: min(bodyLimit, 64 * 1024))
        guard auth.checkCSRF(request, form: form) else {
            throw Problem(
                .forbidden, type: "csrf", title: "Forbidden",
                detail: "the form's CSRF token does not match this browser; reload the page and try again")
        }
        return form
    }

    /// Runs a form post: errors are problem+json for the script and an HTML page for a plain form.
    func formPost(_ request: Request, _ body: ([String: String]) async throws -> (String, Response?)) async -> Response {
        let (cid, _) = auth.clientID(request)
        let client = Client(csrf: auth.csrfToken(client: cid), newID: nil)
        do {
            let form = try await checkedForm(request)
            let (message, answer) = try await body(form)
            if let answer { return answer }
            if Self.fromScript(request) {
                return (try? JSONResponse.make(["message": message])) ?? Response(status: .ok)
            }
            return Self.redirect(DashboardAuth.localPath(form["back"]))
        } catch {
            if Self.fromScript(request) {
                switch error {
                case let p as Problem: return Problem.response(p)
                case let e as StoreError: return Problem.response(.from(e))
                default: return errorPage(error, client: client)
                }
            }
            return errorPage(error, client: client)
        }
    }

    func act(_ request: Request, id: String, action: TaskAction) async throws -> Response {
        await formPost(request) { form in
            let now = env.now()
            let ledger = env.ledger
            switch action {
            case .decide:
                let d = (form["decision"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                guard (1...TaskValidation.directionLimit).contains(d.count) else {
                    throw Problem.invalid("decision", "must be 1 to \(TaskValidation.directionLimit) characters")
                }
                let t = try await ledger.decide(id: id, decision: d, by: "dashboard", now: now)
                return ("\(t.id) answered", nil)
            case .cancel:
                let t = try await ledger.cancel(id: id, reason: "cancelled from the dashboard", by: "dashboard", now: now)
                return ("\(t.id) cancelled", nil)
            case .retry:
                let t = try await ledger.retry(id: id, by: "dashboard", now: now)
                return ("\(t.id) retried", nil)
            }
        }
    }

    // MARK: - Bulk

    /// The statuses a bulk action can change.
    static func bulkStatuses(_ action: TaskAction) -> [TaskStatus] {
        action == .retry ? [.failed] : [.pending, .running, .needsDecision]
    }

    func bulkQuery(_ q: [String: String]) throws -> (TaskAction, DashboardFilter, TaskQuery?) {
        guard let a = q["action"], let action = TaskAction(rawValue: a), action != .decide else {
            throw Problem.invalid("action", "must be retry or cancel")
        }
        let filter = try DashboardFilter.parse(q, knownTypes: env.config.allTaskTypes)
        return (action, filter, filter.query(Self.bulkStatuses(action), limit: 20))
    }

    /// `GET /dashboard/bulk?action=retry&<filter>`: the dry run, with the count to confirm.
    func bulkDryRun(_ request: Request, _ client: Client) async throws -> (title: String, html: String, extra: [String: Any]) {
        let (action, filter, query) = try bulkQuery(request.queryDictionary)
        var page = TaskPage(tasks: [], total: 0)
        if let query { page = try await env.store.list(query) }
        let verb = action == .retry ? "Retry" : "Cancel"
        let sample: [[String: Any]] = page.tasks.map { t in
            ["id": t.id, "status": t.status.rawValue, "phase": t.phase ?? t.taskType.rawValue, "item": t.backlogItem ?? "—"]
        }
        let filterText = filter.isEmpty ? "(everything)" : filter.pairs.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        let statuses = Self.bulkStatuses(action).filter(filter.allows).map(\.rawValue).joined(separator: ", ")
        let hidden: [[String: Any]] = filter.pairs.map { ["name": $0.0, "value": $0.1] }
        var v: [String: Any] = [:]
        v["verb"] = verb
        v["past"] = action == .retry ? "retried" : "cancelled"
        v["action"] = action.rawValue
        v["count"] = "\(page.total)"
        v["any"] = page.total > 0
        v["csrf"] = client.csrf
        v["filterQuery"] = filter.queryString
        v["filterText"] = filterText
        v["statuses"] = statuses
        v["hiddenFilter"] = hidden
        v["sample"] = sample
        if page.total > page.tasks.count { v["more"] = "\(page.total - page.tasks.count)" }
        return ("\(verb) matching", DashboardTemplates.render("bulk", v), [:])
    }

    /// `POST /dashboard/bulk`: does it, if the count is still the one the dry run showed.
    func bulk(_ request: Request) async throws -> Response {
        await formPost(request) { form in
            let (action, _, base) = try bulkQuery(form)
            guard var query = base else { return ("nothing matches", nil) }
            let expected = Int(form["expected"] ?? "") ?? -1
            let total = try await env.store.list(query).total
            guard total == expected else {
                throw Problem(
                    .conflict, type: "count_changed", title: "Conflict",
                    detail: "\(total) task(s) match now, not the \(expected) the dry run showed; look again before confirming")
            }
            query.limit = 100
            var done = 0
            var skipped = 0
            let now = env.now()
            // Each change takes the task out of the match, so the first page is read again
            // until only tasks that could not change remain.
            while done + skipped < expected {
                query.offset = skipped
                let batch = try await env.store.list(query).tasks
                if batch.isEmpty { break }
                for t in batch {
                    do {
                        if action == .retry {
                            _ = try await env.ledger.retry(id: t.id, by: "dashboard", now: now)
                        } else {
                            _ = try await env.ledger.cancel(
                                id: t.id, reason: "cancelled from the dashboard (bulk)", by: "dashboard", now: now)
                        }
                        done += 1
                    } catch is StoreError {
                        skipped += 1
                    }
                }
            }
            let message =
                "\(action == .retry ? "retried" : "cancelled") \(done) task(s)"
                + (skipped > 0 ? ", \(skipped) could not change" : "")
            let client = Client(csrf: "", newID: nil)
            let content = DashboardTemplates.render("message", ["heading": message, "text": "", "back": "/"])
            if Self.fromScript(request) { return (message, nil) }
            return (message, Self.html(layout(title: "Bulk", content: content, client: client)))
        }
    }
}
