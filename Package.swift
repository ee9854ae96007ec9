// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "nightshift",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "nightshift", targets: ["nightshift"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "NightshiftCore",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "NightshiftStore",
            dependencies: [
                "NightshiftCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The same store protocols on PostgreSQL (issue 17); only the store selection and its
        // tests build postgres-nio.
        .target(
            name: "NightshiftStorePostgres",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "NightshiftRuntime",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "NightshiftAPI",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                "NightshiftRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The dashboard's server-rendered pages (Dashboard/); only this target uses it.
                .product(name: "Mustache", package: "swift-mustache"),
                // `POST /mcp`: the MCP tools over the SDK's streamable-HTTP server transport.
                "NightshiftMCP",
                .product(name: "MCP", package: "swift-sdk"),
            ]
        ),
        // Benchmarks the `bench` command prints; kept out of the shipped store target.
        .target(
            name: "NightshiftBench",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        // The MCP server over the REST client; only this target (and the executable) builds the SDK.
        .target(
            name: "NightshiftMCP",
            dependencies: [
                "NightshiftCore",
                .product(name: "MCP", package: "swift-sdk"),
            ]
        ),
        .executableTarget(
            name: "nightshift",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                "NightshiftStorePostgres",
                "NightshiftBench",
                "NightshiftRuntime",
                "NightshiftAPI",
                "NightshiftMCP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "NightshiftTesting",
            dependencies: [
                "NightshiftCore",
                "NightshiftStore",
                "NightshiftRuntime",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "NightshiftCoreTests", dependencies: ["NightshiftCore", "NightshiftTesting"]),
        .testTarget(
            name: "NightshiftStoreTests", dependencies: ["NightshiftStore", "NightshiftStorePostgres", "NightshiftTesting"]),
        .testTarget(name: "NightshiftRuntimeTests", dependencies: ["NightshiftRuntime", "NightshiftTesting"]),
        .testTarget(
            name: "NightshiftAPITests",
            dependencies: [
                "NightshiftAPI", "NightshiftTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "nightshiftTests", dependencies: ["nightshift", "NightshiftTesting"]),
        .testTarget(name: "NightshiftTestingTests", dependencies: ["NightshiftTesting"]),
        // The dashboard and the morning report in headless Chromium over WebDriver.
        .testTarget(
            name: "NightshiftBrowserTests",
            dependencies: [
                "NightshiftAPI", "NightshiftTesting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "NightshiftMCPTests",
            dependencies: [
                "NightshiftMCP", "NightshiftTesting", .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ]
)
