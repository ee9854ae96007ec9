import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime

/// The runs of this daemon's state dir, read from their files (`RunCatalog`).
struct RunRoutes {
    let env: ServiceEnvironment

    struct RunList: Encodable {
        var runs: [RunCatalog.Entry]
        /// The run this daemon works for.
        var current: String?
    }

    func register(_ r: RouteRecorder) {
        let catalog = RunCatalog(paths: env.paths)
        r.on(.get, "/api/agent/runs") { _, _ in
            try JSONResponse.make(RunList(runs: catalog.list(), current: env.run?.paths.id))
        }
        r.on(.get, "/api/agent/runs/{id}") { _, context in
            let id = context.parameters.get("id") ?? ""
            let detail: RunCatalog.Detail
            do {
                detail = try catalog.detail(id)
            } catch let error as RunCatalog.Failure {
                switch error {
                case .malformed(let problem): throw Problem.invalid("id", problem)
                case .notFound: throw Problem.notFound(error.description)
                case .unreadable(let path, let why):
                    throw Problem(
                        .serviceUnavailable, type: "state_file_unreadable", title: "Run file unreadable",
                        detail: "cannot read \(path): \(why)")
                }
            }
            return try JSONResponse.make(detail)
        }
    }
}
