import Foundation
import NightshiftTesting
import Testing

/// Not a timed test: a figure for the issue, run by `scripts/bench_dashboard.sh`
/// (`NIGHTSHIFT_BENCH_DOM=1`). Two workers are kept busy so that 50 tasks stay pending; each is
/// then cancelled through the API, one at a time, and the page's script records, for every
/// live update, the time from the event's `at` (when the store made the transition) to the
/// moment the row is in the DOM.
@Suite(
    "Benchmark: transition → dashboard DOM", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["NIGHTSHIFT_BENCH_DOM"] == "1", "set NIGHTSHIFT_BENCH_DOM=1"))
struct DashboardLatencyBenchmark {
    @Test("p50 and p99 over 50 transitions")
    func latency() async throws {
        try await withBrowser { f in
            let b = f.browser
            _ = try await f.create("hang worker 1")
            _ = try await f.create("hang worker 2")
            var pending: [String] = []
            for n in 0..<50 { pending.append(try await f.create("ask \(n) waits behind busy workers")) }
            try await b.navigate(f.url + "/")
            try await b.waitUntil("document.getElementById('live').classList.contains('ok')")
            try await b.waitUntil("document.querySelectorAll('tbody[data-section=pending] tr').length === 50")
            try await b.execute("window.nightshift.latencies = [];")
            for id in pending {
                let r = await HTTP.send("PATCH", f.url + "/api/agent/tasks/\(id)", json: #"{"status":"cancelled"}"#)
                #expect(r?.status == 200)
                try await b.waitUntil("document.querySelector('#row-\(id)[data-section=finished]')")
            }
            let values = try #require(try await b.execute("return window.nightshift.latencies;") as? [Any])
            let ms = values.compactMap { ($0 as? NSNumber)?.doubleValue }.sorted()
            #expect(ms.count >= 50)
            func q(_ p: Double) -> Double { ms[min(ms.count - 1, max(0, Int((p * Double(ms.count)).rounded(.up)) - 1))] }
            let line = String(
                format: "transition → dashboard DOM: p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)", q(0.5), q(0.99), ms.last ?? 0,
                ms.count)
            print(line)
            try Data((line + "\n").utf8).write(
                to: URL(fileURLWithPath: (WebDriver.artifactsDir as NSString).appendingPathComponent("dom-latency.txt")))
            try await b.screenshot("latency-bench")
        }
    }
}
