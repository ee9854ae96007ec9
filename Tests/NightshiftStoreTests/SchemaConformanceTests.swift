import NightshiftCore
import NightshiftStore
import Testing

@Suite("TaskStore conformance: schema")
struct SchemaConformanceTests {
    @Test("a new store reports its applied migrations by name, oldest first, each once", arguments: TaskStoreFactory.all)
    func migrations(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let names = try await f.store.appliedMigrations()
        #expect(!names.isEmpty)
        #expect(Set(names).count == names.count)
        _ = try await f.task(in: .completed)
        #expect(try await f.store.appliedMigrations() == names, "work does not change the schema")
    }
}
