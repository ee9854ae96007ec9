import Foundation
import Hummingbird
import Logging
import NightshiftCore
import NightshiftRuntime
import ServiceLifecycle

/// Builds the control plane. `main` and the tests use this same builder (STYLE 10).
public enum APIServer {
    /// The router with every route and middleware, plus the table of routes it registered.
    public static func buildRouter(
        env: ServiceEnvironment, views: PipelineViews, isReady: @escaping @Sendable () -> Bool, logs: LogAPI? = nil
    ) -> (router: Router<APIContext>, routes: [(method: String, path: String)]) {
        let router = Router(context: APIContext.self)
        let prometheus = PrometheusExport(env: env)
        router.add(middleware: RequestCountMiddleware(export: prometheus))
        router.add(middleware: ProblemMiddleware())
        let policy = AccessPolicy(env.config.server)
        router.add(middleware: BearerAuthMiddleware(policy: policy))
        let recorder = RouteRecorder(router: router)
        SystemRoutes(env: env, isReady: isReady, prometheus: prometheus).register(recorder)
        TaskRoutes(env: env, bodyLimit: env.config.server.maxBodyBytes).register(recorder)
        DeadLetterRoutes(env: env, bodyLimit: env.config.server.maxBodyBytes).register(recorder)
        PipelineRoutes(env: env, views: views).register(recorder)
        LandingRoutes(views: views, bodyLimit: env.config.server.maxBodyBytes).register(recorder)
        EventRoutes(env: env).register(recorder)
        RunRoutes(env: env).register(recorder)
        NodeRoutes(env: env).register(recorder)
        LogRoutes(logs: logs, bodyLimit: env.config.server.maxBodyBytes).register(recorder)
        MCPRoutes(env: env, bodyLimit: env.config.server.maxBodyBytes).register(recorder)
        let attention = views.attention
        TelegramRoutes(
            env: env, commands: ChatCommands(env: env, attention: { await attention().compactMap(\.stringValue) })
        ).register(recorder)
        DashboardRoutes(
            env: env, views: views, auth: DashboardAuth(policy: policy), logs: logs, bodyLimit: env.config.server.maxBodyBytes
        ).register(recorder)
        // Last, so that it wraps only the not-found responder (see MethodNotAllowedMiddleware).
        router.add(middleware: MethodNotAllowedMiddleware(table: RouteTable(recorder.routes + recorder.pages)))
        return (router, recorder.routes)
    }

    /// The HTTP application (a `Service`). `onRunning` gets the bound port once it listens.
    public static func buildApplication(
        env: ServiceEnvironment, views: PipelineViews, isReady: @escaping @Sendable () -> Bool, logs: LogAPI? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let (router, _) = buildRouter(env: env, views: views, isReady: isReady, logs: logs)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(env.config.server.host, port: env.config.server.port), serverName: "nightshift"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? env.config.server.port) },
            logger: env.logs.logger("api"))
    }
}
