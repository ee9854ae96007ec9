import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// Schema housekeeping for scratch stores (tests, benchmarks): each lives in a schema of its
/// own that is dropped when it is done.
extension PostgresTaskStore {
    /// Drops the store's schema with everything in it. Refused for a store in `public`.
    public func dropSchema() async throws {
        guard let schema = location.schema else {
            throw StoreError(.invalid, "the store has no schema of its own to drop", field: "schema")
        }
        try await read { conn in
            _ = try await conn.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: self.logger)
        }
    }

    /// Schemas of the database whose names start with `prefix` (a literal, no wildcards).
    public func schemas(prefix: String) async throws -> [String] {
        try await read { conn in
            let rows = try await conn.query(
                "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname::text, \(prefix)) ORDER BY nspname",
                logger: self.logger)
            var out: [String] = []
            for try await name in rows.decode(String.self) { out.append(name) }
            return out
        }
    }

    /// Drops the schema `name` (a name `PostgresLocation.isValidSchema` accepts) with everything in it.
    public func dropSchema(named name: String) async throws {
        guard PostgresLocation.isValidSchema(name) else { throw StoreError(.invalid, "bad schema name \(name)", field: "schema") }
        try await read { conn in
            _ = try await conn.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(name)\" CASCADE"), logger: self.logger)
        }
    }
}
