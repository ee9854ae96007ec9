/// The kind of work a task does. The five built-ins always exist; config may declare more.
public struct TaskType: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible, Comparable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let spec = TaskType("spec")
    public static let impl = TaskType("impl")
    public static let test = TaskType("test")
    public static let review = TaskType("review")
    public static let heal = TaskType("heal")

    public static let builtIn: [TaskType] = [.spec, .impl, .test, .review, .heal]

    public var description: String { rawValue }
    public static func < (lhs: TaskType, rhs: TaskType) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// Lower-case letters, digits, `_` and `-`, 1–32 characters, starting with a letter.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.count <= 32 else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
    }
}
