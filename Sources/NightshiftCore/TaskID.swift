/// Task ids are `task_` followed by 16 lower-case hex characters.
public enum TaskID {
    public static let prefix = "task_"

    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let value = rng.next() as UInt64
        let hex = String(value, radix: 16)
        return prefix + String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func isValid(_ id: String) -> Bool {
        guard id.hasPrefix(prefix) else { return false }
        let rest = id.dropFirst(prefix.count)
        return rest.count == 16 && rest.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
    }
}
