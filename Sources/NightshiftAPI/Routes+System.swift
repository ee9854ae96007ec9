import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// Health, readiness, version and metrics.
struct SystemRoutes {
    let env: ServiceEnvironment
    let isReady: @Sendable () -> Bool
    let prometheus: PrometheusExport

    struct Health: Encodable {
        var status = "ok"
        var pid: Int32
        var version: String
        var gitSHA: String
        var startedAt: Date
        var uptimeSeconds: Double
        enum CodingKeys: String, CodingKey {
            case status, pid, version
            case gitSHA = "git_sha"
            case startedAt = "started_at"
            case uptimeSeconds = "uptime_seconds"
        }
    }

    struct Ready: Encodable {
        var ready: Bool
        var checks: [String: Bool]
    }

    struct Version: Encodable {
        var version: String
        var gitSHA: String
        var startedAt: Date
        var migrations: [String]
        enum CodingKeys: String, CodingKey {
            case version, migrations
            case gitSHA = "git_sha"
            case startedAt = "started_at"
        }
    }

    static let metricsWindow = 1000

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/health") { _, _ in
            try JSONResponse.make(
                Health(
                    pid: getpid(), version: env.version.version, gitSHA: env.version.gitSHA, startedAt: env.version.startedAt,
                    uptimeSeconds: (env.now().timeIntervalSince(env.version.startedAt) * 1000).rounded() / 1000))
        }
        r.on(.get, "/api/ready") { _, _ in
            var storeOK = true
            do { _ = try await env.store.countByStatus() } catch { storeOK = false }
            let services = isReady()
            guard storeOK && services else {
                throw Problem(
                    .serviceUnavailable, type: "not_ready", title: "Not ready",
                    detail: storeOK ? "services are still starting or stopping" : "the task store cannot be read")
            }
            return try JSONResponse.make(Ready(ready: true, checks: ["store": storeOK, "services": services]))
        }
        r.on(.get, "/api/version") { _, _ in
            let migrations = (try? await env.store.appliedMigrations()) ?? []
            return try JSONResponse.make(
                Version(
                    version: env.version.version, gitSHA: env.version.gitSHA, startedAt: env.version.startedAt,
                    migrations: migrations))
        }
        r.on(.get, "/api/agent/metrics") { _, _ in
            let samples = try await env.store.recentFinished(limit: Self.metricsWindow)
            return try JSONResponse.make(TaskMetrics.compute(samples, windowSize: Self.metricsWindow))
        }
        r.on(.get, "/metrics") { _, _ in
            JSONResponse.text(try await prometheus.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}
