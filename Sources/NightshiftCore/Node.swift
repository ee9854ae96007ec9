import Foundation

/// One daemon sharing the store: what its heartbeat row says. On SQLite there is only ever one
/// live node (the state dir lock); on PostgreSQL several daemons share the queue.
public struct NodeInfo: Codable, Sendable, Equatable {
    /// Stable across restarts (`node.id`, by default the host and the state dir).
    public var id: String
    /// The daemon process now behind the id: the owner of the tasks it claims.
    public var instanceID: String
    public var host: String
    public var pid: Int32
    /// Where its API listens, once it does.
    public var url: String?
    public var version: String
    public var startedAt: Date
    /// Its last heartbeat.
    public var lastSeen: Date
    /// Set when it stopped cleanly.
    public var stoppedAt: Date?

    public init(
        id: String, instanceID: String, host: String, pid: Int32, url: String?, version: String, startedAt: Date,
        lastSeen: Date, stoppedAt: Date? = nil
    ) {
        self.id = id
        self.instanceID = instanceID
        self.host = host
        self.pid = pid
        self.url = url
        self.version = version
        self.startedAt = startedAt
        self.lastSeen = lastSeen
        self.stoppedAt = stoppedAt
    }

    /// True while its heartbeat is younger than `lease` and it has not stopped.
    public func isAlive(now: Date, lease: Double) -> Bool {
        stoppedAt == nil && now.timeIntervalSince(lastSeen) <= lease
    }
}

/// Who leads the nodes: the one that runs the project manager, the monitor, maintenance and
/// the rescue of other nodes' tasks.
public struct Leadership: Codable, Sendable, Equatable {
    public var nodeID: String
    public var instanceID: String
    /// When this instance became the leader.
    public var since: Date

    public init(nodeID: String, instanceID: String, since: Date) {
        self.nodeID = nodeID
        self.instanceID = instanceID
        self.since = since
    }
}

/// Node ids: 1–64 characters of letters, digits, `.`, `_`, `-` and `:`.
public enum NodeID {
    public static func validate(_ id: String) -> String? {
        guard !id.isEmpty, id.utf8.count <= 64 else { return "must be 1 to 64 characters" }
        let ok = id.unicodeScalars.allSatisfy { s in
            s.isASCII && (CharacterSet.alphanumerics.contains(s) || "._-:".unicodeScalars.contains(s))
        }
        return ok ? nil : "may hold only letters, digits and . _ - :"
    }

    /// The default id: the host name and a short hash of the state dir, so two daemons on one
    /// machine (separate state dirs) are two nodes and a restart keeps its id.
    public static func defaultID(host: String, stateDir: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in stateDir.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        let cleanHost = String(
            host.unicodeScalars.map { s in
                s.isASCII && (CharacterSet.alphanumerics.contains(s) || "._-".unicodeScalars.contains(s)) ? Character(s) : "-"
            }
            .prefix(48))
        return "\(cleanHost.isEmpty ? "node" : cleanHost)-\(String(hash & 0xff_ffff, radix: 16))"
    }
}

/// `GET /api/agent/nodes` and `nightshift nodes`: every node that shares the store, whether it
/// is alive and leads, and the tasks it is running.
public struct NodeList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var instanceID: String
        public var host: String
        public var pid: Int32
        public var url: String?
        public var version: String
        public var startedAt: Date
        public var lastSeen: Date
        public var stoppedAt: Date?
        /// Heartbeat younger than `node.lease` and not stopped.
        public var alive: Bool
        public var leader: Bool
        /// Ids of the tasks it is running now.
        public var running: [String]

        enum CodingKeys: String, CodingKey {
            case id, host, pid, url, version, alive, leader, running
            case instanceID = "instance_id"
            case startedAt = "started_at"
            case lastSeen = "last_seen"
            case stoppedAt = "stopped_at"
        }

        public init(_ node: NodeInfo, alive: Bool, leader: Bool, running: [String]) {
            (id, instanceID, host, pid, url, version) = (node.id, node.instanceID, node.host, node.pid, node.url, node.version)
            (startedAt, lastSeen, stoppedAt) = (node.startedAt, node.lastSeen, node.stoppedAt)
            (self.alive, self.leader, self.running) = (alive, leader, running)
        }
    }

    /// The node that answered.
    public var selfID: String
    /// The leading node's id, if one leads.
    public var leader: String?
    /// Whether other daemons may share the store (PostgreSQL).
    public var shared: Bool
    public var nodes: [Entry]

    enum CodingKeys: String, CodingKey {
        case leader, shared, nodes
        case selfID = "self"
    }

    public init(selfID: String, leader: String?, shared: Bool, nodes: [Entry]) {
        self.selfID = selfID
        self.leader = leader
        self.shared = shared
        self.nodes = nodes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(selfID, forKey: .selfID)
        try c.encode(leader, forKey: .leader)
        try c.encode(shared, forKey: .shared)
        try c.encode(nodes, forKey: .nodes)
    }
}

extension NodeList.Entry {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(instanceID, forKey: .instanceID)
        try c.encode(host, forKey: .host)
        try c.encode(pid, forKey: .pid)
        try c.encode(url, forKey: .url)
        try c.encode(version, forKey: .version)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(stoppedAt, forKey: .stoppedAt)
        try c.encode(alive, forKey: .alive)
        try c.encode(leader, forKey: .leader)
        try c.encode(running, forKey: .running)
    }
}
