import Foundation
import HummingbirdTesting
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import Testing

@Suite("API: health, readiness, version, metrics")
struct SystemRouteTests {
    @Test("GET /api/health has pid, version, git sha, started_at and uptime from the clock")
    func health() async throws {
        let h = try APIHarness()
        h.clock.advance(by: 42.5)
        try await h.test { client in
            let body = try await client.getJSON("/api/health")
            #expect(body["status"].string == "ok")
            #expect(body["pid"].int == Int(getpid()))
            #expect(body["version"].string == VersionInfo.current)
            #expect(body["git_sha"].string == "test")
            #expect(body["started_at"].string == Timestamp.format(APIHarness.startedAt))
            #expect(body["uptime_seconds"].double == 42.5)
        }
    }

    @Test("GET /api/ready is 200 with its checks once services run")
    func ready() async throws {
        let h = try APIHarness(ready: true)
        try await h.test { client in
            let body = try await client.getJSON("/api/ready")
            #expect(body["ready"].bool == true)
            #expect(body["checks"]["store"].bool == true)
            #expect(body["checks"]["services"].bool == true)
        }
    }

    @Test("GET /api/ready is a 503 problem while services start or stop")
    func notReady() async throws {
        let h = try APIHarness(ready: false)
        try await h.test { client in
            let r = try await client.get("/api/ready", allow503: true)
            try expectProblem(r, .serviceUnavailable, type: "not_ready")
        }
    }

    @Test("GET /api/version lists the applied store migrations")
    func version() async throws {
        let h = try APIHarness()
        let migrations = try await h.store.appliedMigrations()
        #expect(!migrations.isEmpty)
        try await h.test { client in
            let body = try await client.getJSON("/api/version")
            #expect(body["version"].string == VersionInfo.current)
            #expect(body["git_sha"].string == "test")
            #expect(body["started_at"].string == Timestamp.format(APIHarness.startedAt))
            #expect(body["migrations"].array?.compactMap(\.string) == migrations)
        }
    }

    @Test("GET /api/agent/metrics: success rate, p50/p95/max, cost and by-type figures from the store")
    func metrics() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let empty = try await client.getJSON("/api/agent/metrics")
            #expect(empty["finished"].int == 0)
            #expect(empty["window_size"].int == 1000)
            #expect(empty["success_rate"].isNull)
            #expect(empty["duration_seconds"]["p50"].isNull)
            #expect(empty["duration_seconds"]["p95"].isNull)
            #expect(empty["duration_seconds"]["max"].isNull)
        }
        // Four completed impl tasks of 10/20/30/40 s, one failed test task of 100 s.
        for s in [10.0, 20, 30, 40] { try await h.finished(.completed, seconds: s, cost: 0.25) }
        try await h.finished(.failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil), type: .test, seconds: 100)
        try await h.pending("not finished, not counted")
        try await h.test { client in
            let m = try await client.getJSON("/api/agent/metrics")
            #expect(m["finished"].int == 5)
            #expect(m["completed"].int == 4)
            #expect(m["failed"].int == 1)
            #expect(m["success_rate"].double == 0.8)
            // Nearest rank over [10, 20, 30, 40, 100]: p50 is the 3rd value, p95 the 5th.
            #expect(m["duration_seconds"]["p50"].double == 30)
            #expect(m["duration_seconds"]["p95"].double == 100)
            #expect(m["duration_seconds"]["max"].double == 100)
            #expect(m["cost_usd_total"].double == 1.0)
            #expect(m["by_type"]["impl"]["finished"].int == 4)
            #expect(m["by_type"]["impl"]["success_rate"].double == 1)
            #expect(m["by_type"]["impl"]["p50"].double == 20)
            #expect(m["by_type"]["test"]["failed"].int == 1)
            #expect(m["by_type"]["test"]["success_rate"].double == 0)
            #expect(m["by_type"].keys == ["impl", "test"])
            try expectRequiredKeys(m, schema: "Metrics")
        }
    }

    @Test("GET /metrics is Prometheus text with task gauges by status and request counters")
    func prometheus() async throws {
        let h = try APIHarness()
        try await h.pending()
        try await h.pending()
        try await h.completed()
        h.env.health.beat("agent_runner", at: h.clock.now)
        try await h.test { client in
            try await client.get("/api/health")
            let r = try await client.get("/metrics")
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = r.text
            let samples = Self.samples(text)
            #expect(samples[#"nightshift_tasks{status="pending"}"#] == 2, "\(text)")
            #expect(samples[#"nightshift_tasks{status="completed"}"#] == 1)
            for status in TaskStatus.allCases {
                #expect(samples[#"nightshift_tasks{status="\#(status.rawValue)"}"#] != nil, "a gauge for \(status.rawValue)")
            }
            #expect(samples["nightshift_recent_success_ratio"] == 1)
            #expect(samples["nightshift_workers"] == Double(h.config.runner.workers))
            #expect(samples[#"nightshift_component_heartbeat_age_seconds{component="agent_runner"}"#] == 0)
            #expect(text.contains("# TYPE nightshift_tasks gauge"))
            #expect(
                samples.keys.contains { $0.hasPrefix("nightshift_http_requests_total") && $0.contains(#"status="200""#) },
                "the earlier health request is counted: \(text)")
        }
    }

    /// `name{labels} value` lines of a Prometheus exposition, by series.
    static func samples(_ text: String) -> [String: Double] {
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
            out[String(line[..<space])] = v
        }
        return out
    }
}
