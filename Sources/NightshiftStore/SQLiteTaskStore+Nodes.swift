import Foundation
import GRDB
import NightshiftCore

/// A node's heartbeat row, as a GRDB record: adding a column touches the migration and this.
struct NodeRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "nodes"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    static let databaseDateDecodingStrategy = DatabaseDateDecodingStrategy.timeIntervalSince1970
    static let databaseDateEncodingStrategy = DatabaseDateEncodingStrategy.timeIntervalSince1970

    var id: String
    var instanceId: String
    var host: String
    var pid: Int32
    var url: String?
    var version: String
    var startedAt: Date
    var lastSeen: Date
    var stoppedAt: Date?

    init(_ n: NodeInfo) {
        (id, instanceId, host, pid, url, version) = (n.id, n.instanceID, n.host, n.pid, n.url, n.version)
        (startedAt, lastSeen, stoppedAt) = (n.startedAt, n.lastSeen, n.stoppedAt)
    }

    var info: NodeInfo {
        NodeInfo(
            id: id, instanceID: instanceId, host: host, pid: pid, url: url, version: version, startedAt: startedAt,
            lastSeen: lastSeen, stoppedAt: stoppedAt)
    }
}

/// The leader row (one row, id 1), as a GRDB record.
struct LeaderRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "node_leader"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    static let databaseDateDecodingStrategy = DatabaseDateDecodingStrategy.timeIntervalSince1970
    static let databaseDateEncodingStrategy = DatabaseDateEncodingStrategy.timeIntervalSince1970

    var id = 1
    var nodeId: String
    var instanceId: String
    var since: Date
}

extension SQLiteMigrations {
    /// Nodes and their leader. On SQLite the only node is the daemon holding the state dir lock.
    static func registerNodes(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-04-nodes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE nodes (
                      id TEXT PRIMARY KEY NOT NULL,
                      instance_id TEXT NOT NULL,
                      host TEXT NOT NULL,
                      pid INTEGER NOT NULL,
                      url TEXT,
                      version TEXT NOT NULL,
                      started_at REAL NOT NULL,
                      last_seen REAL NOT NULL,
                      stopped_at REAL
                    );
                    CREATE TABLE node_leader (
                      id INTEGER PRIMARY KEY CHECK (id = 1),
                      node_id TEXT NOT NULL,
                      instance_id TEXT NOT NULL,
                      since REAL NOT NULL
                    );
                    """)
        }
    }
}

extension SQLiteTaskStore: NodeStore {
    public var sharedByNodes: Bool { false }

    public func beat(_ node: NodeInfo) async throws {
        try await write { db in try NodeRow(node).save(db) }
    }

    public func nodes() async throws -> [NodeInfo] {
        try await read { db in
            try NodeRow.order(Column("last_seen").desc).fetchAll(db).map(\.info)
        }
    }

    public func stopNode(id: String, instanceID: String, at: Date) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE nodes SET stopped_at = ? WHERE id = ? AND instance_id = ?",
                arguments: [at.timeIntervalSince1970, id, instanceID])
        }
    }

    /// One daemon per database (the state dir lock): it always leads.
    public func tryLead(nodeID: String, instanceID: String, now: Date) async throws -> Bool {
        try await write { db in
            if try LeaderRow.fetchOne(db, key: 1)?.instanceId != instanceID {
                try LeaderRow(nodeId: nodeID, instanceId: instanceID, since: now).save(db)
            }
        }
        return true
    }

    public func resign(instanceID: String) async {}

    public func leadership() async throws -> Leadership? {
        try await read { db in
            try LeaderRow.fetchOne(db, key: 1).map { Leadership(nodeID: $0.nodeId, instanceID: $0.instanceId, since: $0.since) }
        }
    }
}
