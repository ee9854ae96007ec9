import PostgresNIO

/// SQL text built piece by piece with every value bound as a parameter (`$n`), for the
/// statements whose shape depends on the request (filters, optional clauses). Values never
/// enter the text.
struct PostgresSQL {
    private(set) var text = ""
    private(set) var binds = PostgresBindings()

    init(_ text: String = "") { self.text = text }

    /// Binds `value` and returns its placeholder.
    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func bind<V: PostgresDynamicTypeEncodable>(_ value: V?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func append(_ sql: String) { text += sql }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: binds) }
}
