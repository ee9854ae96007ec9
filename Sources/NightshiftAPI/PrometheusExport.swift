import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import Prometheus

/// `/metrics`: task gauges read from the store at scrape time, plus HTTP request counters.
struct PrometheusExport: Sendable {
    let env: ServiceEnvironment
    let registry = PrometheusCollectorRegistry()

    func render() async throws -> String {
        let counts = try await env.store.countByStatus()
        for status in TaskStatus.allCases {
            gauge("tasks", "Tasks in the store by status", [("status", status.rawValue)])
                .set(Double(counts[status] ?? 0))
        }
        let samples = try await env.store.recentFinished(limit: SystemRoutes.metricsWindow)
        let m = TaskMetrics.compute(samples, windowSize: SystemRoutes.metricsWindow)
        gauge("recent_success_ratio", "Completed share of the last finished tasks")
            .set(m.successRate ?? 1)
        gauge("recent_duration_p95_seconds", "p95 attempt duration of the last finished tasks")
            .set(m.durationSeconds.p95 ?? 0)
        gauge("workers", "Configured runner workers").set(Double(env.config.runner.workers))
        gauge("uptime_seconds", "Seconds since the daemon started")
            .set(env.now().timeIntervalSince(env.version.startedAt))
        for (component, at) in env.health.heartbeats {
            gauge("component_heartbeat_age_seconds", "Seconds since a service last beat", [("component", component)])
                .set(env.now().timeIntervalSince(at))
        }
        // A gauge of a monotonic count: the daemon's own output lines that could not be written.
        gauge(
            "dropped_output_lines_total",
            "Lines the daemon could not write to stdout, stderr or a component log (closed pipe, full disk)"
        )
        .set(Double(StandardStreams.droppedLines))
        return registry.emitToString()
    }

    func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(namespace: "nightshift", metricName: name, unitName: "", helpText: help),
            labels: labels)
    }

    func countRequest(method: String, status: Int) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "nightshift", metricName: "http_requests_total", unitName: "", helpText: "HTTP requests served"),
            labels: [("method", method), ("status", "\(status)")]
        )
        .increment()
    }
}

/// Counts requests by method and status for `/metrics`.
struct RequestCountMiddleware<Context: RequestContext>: RouterMiddleware {
    let export: PrometheusExport
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        let response = try await next(request, context)
        export.countRequest(method: request.method.rawValue, status: response.status.code)
        return response
    }
}
