import Foundation

/// Where the task store lives: `store.url` (env `NIGHTSHIFT_STORE_URL`). Empty means the SQLite
/// database in the state dir, the embedded default.
public enum StoreURL: Sendable, Equatable {
    /// `sqlite:PATH`, or nil for the state dir's database.
    case sqlite(path: String?)
    /// `postgres://user[:password]@host[:port]/database[?schema=NAME&sslmode=disable|prefer|require]`.
    case postgres(PostgresLocation)

    /// Parses `store.url`; an empty text is the default SQLite store. The error's reason says
    /// what is wrong (the caller names the key).
    public static func parse(_ text: String) throws(StoreURLError) -> StoreURL {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return .sqlite(path: nil) }
        if trimmed.hasPrefix("sqlite:") {
            let path = String(trimmed.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw StoreURLError("sqlite: needs a path, as in sqlite:logs/nightshift.sqlite") }
            return .sqlite(path: path)
        }
        return .postgres(try PostgresLocation.parse(trimmed))
    }
}

/// Why a store URL was refused.
public struct StoreURLError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A PostgreSQL server and database for the task store, parsed from a `postgres://` URL.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    /// How the connection uses TLS (libpq's `sslmode`, the three modes the client has).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        case disable, prefer, require
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// The schema the store's tables live in (created when missing); nil is `public`.
    public var schema: String?
    public var tls: TLSMode

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String, schema: String? = nil,
        tls: TLSMode = .prefer
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.schema = schema
        self.tls = tls
    }

    /// The URL without its password, for logs and messages.
    public var description: String {
        var s =
            "postgres://\(user)\(password == nil ? "" : ":***")@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
        var query: [String] = []
        if let schema { query.append("schema=\(schema)") }
        if tls != .prefer { query.append("sslmode=\(tls.rawValue)") }
        if !query.isEmpty { s += "?" + query.joined(separator: "&") }
        return s
    }

    /// A name PostgreSQL takes unquoted and this store quotes safely: a lowercase letter or `_`,
    /// then up to 62 lowercase letters, digits or `_`.
    public static func isValidSchema(_ name: String) -> Bool {
        let u = Array(name.utf8)
        guard (1...63).contains(u.count) else { return false }
        func lower(_ c: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) || c == UInt8(ascii: "_") }
        return lower(u[0]) && u.allSatisfy { lower($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    public static func parse(_ text: String) throws(StoreURLError) -> PostgresLocation {
        guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased() else {
            throw StoreURLError("is not a URL: expected postgres://user@host:port/database or sqlite:PATH")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw StoreURLError("has scheme \(scheme): only postgres:// (or postgresql://) and sqlite: are stores")
        }
        guard let host = c.host, !host.isEmpty else { throw StoreURLError("names no host (postgres://user@HOST:port/database)") }
        guard let user = c.user, !user.isEmpty else { throw StoreURLError("names no user (postgres://USER@host:port/database)") }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreURLError("names no database (postgres://user@host:port/DATABASE)")
        }
        let port = c.port ?? 5432
        guard (1...65535).contains(port) else { throw StoreURLError("has port \(port), not 1 to 65535") }
        var location = PostgresLocation(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: port, user: user,
            password: c.password, database: database)
        for item in c.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "schema":
                guard isValidSchema(value) else {
                    throw StoreURLError("has schema \"\(value)\": use 1 to 63 of a-z, 0-9 and _, starting with a letter or _")
                }
                location.schema = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw StoreURLError("has sslmode \"\(value)\": use disable, prefer or require")
                }
                location.tls = mode
            default:
                throw StoreURLError("has unknown parameter \"\(item.name)\" (known: schema, sslmode)")
            }
        }
        return location
    }
}
