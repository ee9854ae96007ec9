import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import PostgresNIO

extension PostgresMigrations {
    /// The nodes' heartbeat rows and the leader row (the lock itself is an advisory lock).
    static let nodes = Migration(
        name: "2026-12-12-nodes",
        sql: """
            CREATE TABLE nodes (
              id text COLLATE "C" PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 64),
              instance_id text NOT NULL,
              host text NOT NULL,
              pid bigint NOT NULL,
              url text,
              version text NOT NULL,
              started_at double precision NOT NULL,
              last_seen double precision NOT NULL,
              stopped_at double precision
            );
            CREATE TABLE node_leader (
              id integer PRIMARY KEY CHECK (id = 1),
              node_id text NOT NULL,
              instance_id text NOT NULL,
              since double precision NOT NULL
            );
            """)
}

/// Leadership on PostgreSQL: a session-level advisory lock ("nsld" and the schema's hash) held
/// on a connection of its own, outside the pool. The server releases it when that session
/// ends, so a leader that dies (or loses the database) frees it at once and the next node's
/// heartbeat takes it; while it holds it, each heartbeat checks the session is still there
/// and steps down when it is not.
actor PostgresLeaderLock {
    static let key: Int32 = 0x6E73_6C64
    private var connection: PostgresConnection?
    private var holding = false

    /// True while this store holds the lock; tries to take it when it does not.
    func tryHold(_ location: PostgresLocation, logger: Logger) async throws -> Bool {
        let schema = location.schema ?? "public"
        if let conn = connection {
            do {
                if holding {
                    try await conn.query("SELECT 1", logger: logger)
                    return true
                }
                return try await take(conn, schema: schema, logger: logger)
            } catch {
                // The session is gone, and the lock with it: follow, and reconnect next time.
                connection = nil
                holding = false
                try? await conn.close()
                throw error
            }
        }
        var config = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: try Self.tls(location.tls))
        config.options.connectTimeout = .seconds(5)
        let conn = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        connection = conn
        return try await take(conn, schema: schema, logger: logger)
    }

    private func take(_ conn: PostgresConnection, schema: String, logger: Logger) async throws -> Bool {
        let rows = try await conn.query(
            "SELECT pg_try_advisory_lock(\(Self.key), hashtext(\(schema)))", logger: logger)
        for try await got in rows.decode(Bool.self) { holding = got }
        return holding
    }

    /// Releases the lock and closes its session.
    func release(logger: Logger) async {
        guard let conn = connection else { return }
        connection = nil
        holding = false
        try? await conn.close()
    }

    static func tls(_ mode: PostgresLocation.TLSMode) throws -> PostgresConnection.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(try .init(configuration: .makeClientConfiguration()))
        case .require: return .require(try .init(configuration: .makeClientConfiguration()))
        }
    }
}

extension PostgresTaskStore: NodeStore {
    public var sharedByNodes: Bool { true }

    public func beat(_ node: NodeInfo) async throws {
        _ = try await transaction { conn in
            try await conn.query(
                """
                INSERT INTO nodes (id, instance_id, host, pid, url, version, started_at, last_seen, stopped_at)
                VALUES (\(node.id), \(node.instanceID), \(node.host), \(Int(node.pid)), \(node.url), \(node.version),
                        \(node.startedAt.timeIntervalSince1970), \(node.lastSeen.timeIntervalSince1970),
                        \(node.stoppedAt?.timeIntervalSince1970))
                ON CONFLICT (id) DO UPDATE SET instance_id = EXCLUDED.instance_id, host = EXCLUDED.host, pid = EXCLUDED.pid,
                  url = EXCLUDED.url, version = EXCLUDED.version, started_at = EXCLUDED.started_at,
                  last_seen = EXCLUDED.last_seen, stopped_at = EXCLUDED.stopped_at
                """, logger: logger)
        }
    }

    public func nodes() async throws -> [NodeInfo] {
        try await read { conn in
            let rows = try await conn.query(
                """
                SELECT id, instance_id, host, pid, url, version, started_at, last_seen, stopped_at
                FROM nodes ORDER BY last_seen DESC, id
                """, logger: logger)
            var out: [NodeInfo] = []
            for try await (id, instance, host, pid, url, version, started, seen, stopped) in rows.decode(
                (String, String, String, Int, String?, String, Double, Double, Double?).self)
            {
                out.append(
                    NodeInfo(
                        id: id, instanceID: instance, host: host, pid: Int32(truncatingIfNeeded: pid), url: url,
                        version: version, startedAt: Date(timeIntervalSince1970: started),
                        lastSeen: Date(timeIntervalSince1970: seen), stoppedAt: stopped.map(Date.init(timeIntervalSince1970:))))
            }
            return out
        }
    }

    public func stopNode(id: String, instanceID: String, at: Date) async throws {
        _ = try await transaction { conn in
            try await conn.query(
                "UPDATE nodes SET stopped_at = \(at.timeIntervalSince1970) WHERE id = \(id) AND instance_id = \(instanceID)",
                logger: logger)
        }
    }

    public func tryLead(nodeID: String, instanceID: String, now: Date) async throws -> Bool {
        let leads = try await withStoreErrors { try await leaderLock.tryHold(location, logger: logger) }
        guard leads else { return false }
        // Whoever holds the lock writes the leader row; it keeps its `since` while it leads.
        _ = try await transaction { conn in
            try await conn.query(
                """
                INSERT INTO node_leader (id, node_id, instance_id, since) VALUES (1, \(nodeID), \(instanceID), \(now.timeIntervalSince1970))
                ON CONFLICT (id) DO UPDATE SET node_id = EXCLUDED.node_id, instance_id = EXCLUDED.instance_id, since = EXCLUDED.since
                WHERE node_leader.instance_id <> EXCLUDED.instance_id
                """, logger: logger)
        }
        return true
    }

    public func resign(instanceID: String) async {
        await leaderLock.release(logger: logger)
    }

    public func leadership() async throws -> Leadership? {
        try await read { conn in
            let rows = try await conn.query("SELECT node_id, instance_id, since FROM node_leader WHERE id = 1", logger: logger)
            for try await (node, instance, since) in rows.decode((String, String, Double).self) {
                return Leadership(nodeID: node, instanceID: instance, since: Date(timeIntervalSince1970: since))
            }
            return nil
        }
    }
}
