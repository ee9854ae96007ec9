import NightshiftCore
import Testing

@Suite("store.url")
struct StoreURLTests {
    @Test("empty is the state dir's SQLite; sqlite:PATH names a file")
    func sqlite() throws {
        #expect(try StoreURL.parse("") == .sqlite(path: nil))
        #expect(try StoreURL.parse("  ") == .sqlite(path: nil))
        #expect(try StoreURL.parse("sqlite:/var/lib/ns.sqlite") == .sqlite(path: "/var/lib/ns.sqlite"))
        #expect(throws: StoreURLError.self) { try StoreURL.parse("sqlite:") }
    }

    @Test("a postgres URL gives host, port, user, password, database, schema and sslmode")
    func postgres() throws {
        let full = try StoreURL.parse("postgres://ns:s%40cret@db.example:6543/queue?schema=night_1&sslmode=require")
        #expect(
            full
                == .postgres(
                    PostgresLocation(
                        host: "db.example", port: 6543, user: "ns", password: "s@cret", database: "queue", schema: "night_1",
                        tls: .require)))
        let short = try PostgresLocation.parse("postgresql://ns@127.0.0.1/queue")
        #expect(short.port == 5432 && short.password == nil && short.schema == nil && short.tls == .prefer)
        #expect(try PostgresLocation.parse("postgres://ns@[::1]:5433/q").host == "::1")
    }

    @Test("the description never shows the password")
    func redacted() throws {
        let l = try PostgresLocation.parse("postgres://ns:hunter2@h:5433/q?schema=s")
        #expect(!l.description.contains("hunter2"))
        #expect(l.description == "postgres://ns:***@h:5433/q?schema=s")
    }

    @Test(
        "bad URLs are refused with the reason",
        arguments: [
            ("mysql://u@h/db", "scheme"), ("postgres://h/db", "user"), ("postgres://u@h", "database"),
            ("postgres://u@h/db?schema=Bad-Name", "schema"), ("postgres://u@h/db?sslmode=maybe", "sslmode"),
            ("postgres://u@h/db?pool=3", "unknown parameter"), ("postgres://u@h:0/db", "port"), ("not a url", "URL"),
        ])
    func refused(_ example: (String, String)) {
        do {
            _ = try StoreURL.parse(example.0)
            Issue.record("\(example.0) was accepted")
        } catch {
            #expect(error.reason.contains(example.1), "\(example.0): \(error.reason)")
        }
    }

    @Test("config: a bad store.url stops loading with the key; NIGHTSHIFT_STORE_URL overrides and is checked too")
    func config() throws {
        let parsed = try ConfigLoader.parse(yaml: "store:\n  url: mysql://x@y/z\n")
        #expect(parsed.store.url == "mysql://x@y/z")
        do {
            try ConfigLoader.validate(parsed)
            Issue.record("a mysql store.url was accepted")
        } catch {
            #expect(error.path == "store.url")
        }
        let c = try ConfigLoader.load(path: nil, environment: ["NIGHTSHIFT_STORE_URL": "postgres://ns@h/q"])
        #expect(c.store.url == "postgres://ns@h/q")
        do {
            _ = try ConfigLoader.load(path: nil, environment: ["NIGHTSHIFT_STORE_URL": "postgres://h/q"])
            Issue.record("a URL without a user was accepted")
        } catch {
            #expect(error.path == "NIGHTSHIFT_STORE_URL")
        }
    }
}
