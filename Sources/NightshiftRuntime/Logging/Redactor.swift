/// Removes secrets from agent output before it is written anywhere: `Bearer <token>`,
/// `sk-...` keys, `api_key=` / `token=` / `secret=` / `password=` values (env, query or JSON
/// style), and the literal values of configured environment variables. Works on bytes, one
/// line at a time, so it keeps up with an agent printing hundreds of MB/s.
public struct Redactor: Sendable {
    public static let mask: [UInt8] = Array("[REDACTED]".utf8)

    /// Exact secret values (at least 4 bytes long) to mask wherever they appear.
    let literals: [[UInt8]]
    /// Bytes that may start a rule; any other byte is copied without a second look.
    let interesting: [Bool]

    static let secretKeySuffixes: [[UInt8]] = [
        "api_key", "apikey", "api-key", "token", "secret", "password", "passwd", "access_key", "private_key", "auth_key",
    ].map { Array($0.utf8) }

    public init(secretValues: [String] = []) {
        literals = secretValues.filter { $0.utf8.count >= 4 }.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        var table = [Bool](repeating: false, count: 256)
        for b in "bBsS=:".utf8 { table[Int(b)] = true }
        for l in literals { table[Int(l[0])] = true }
        interesting = table
    }

    /// The line with every secret replaced by `[REDACTED]`.
    public func redact(_ line: String) -> String {
        var out: [UInt8] = []
        var copy = line
        copy.withUTF8 { redact($0, into: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the redacted form of `input` (one line, no newline) to `out`.
    public func redact(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        let n = input.count
        var i = 0
        var copyFrom = 0
        while i < n {
            let b = input[i]
            guard interesting[Int(b)] else {
                i += 1
                continue
            }
            var matchedEnd = -1
            var keep = 0
            if let end = literalMatch(input, at: i) {
                matchedEnd = end
            } else if b == UInt8(ascii: "b") || b == UInt8(ascii: "B") {
                if let (k, end) = bearerMatch(input, at: i) {
                    keep = k
                    matchedEnd = end
                }
            } else if b == UInt8(ascii: "s") || b == UInt8(ascii: "S") {
                if let end = skKeyMatch(input, at: i) {
                    keep = 3
                    matchedEnd = end
                }
            } else if b == UInt8(ascii: "=") || b == UInt8(ascii: ":") {
                if let (k, end) = keyValueMatch(input, at: i) {
                    keep = k
                    matchedEnd = end
                }
            }
            if matchedEnd > i {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copyFrom..<(i + keep)]))
                out.append(contentsOf: Self.mask)
                i = matchedEnd
                copyFrom = i
            } else {
                i += 1
            }
        }
        if copyFrom < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copyFrom..<n])) }
    }

    private func literalMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        for lit in literals where lit[0] == s[i] && i + lit.count <= s.count {
            var j = 1
            while j < lit.count && s[i + j] == lit[j] { j += 1 }
            if j == lit.count { return i + lit.count }
        }
        return nil
    }

    @inline(__always) private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    @inline(__always) private static func isTokenByte(_ b: UInt8) -> Bool {
        isAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "~")
            || b == UInt8(ascii: "+") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=")
    }

    @inline(__always) private static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    /// `Bearer <token of 8+ chars>` → keeps "Bearer " and masks the token.
    private func bearerMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int)? {
        let word: [UInt8] = [0x62, 0x65, 0x61, 0x72, 0x65, 0x72]  // "bearer"
        guard i + 7 < s.count, i == 0 || !Self.isAlnum(s[i - 1]) else { return nil }
        for k in 0..<6 where Self.lower(s[i + k]) != word[k] { return nil }
        var j = i + 6
        guard s[j] == UInt8(ascii: " ") || s[j] == UInt8(ascii: "\t") else { return nil }
        while j < s.count && (s[j] == UInt8(ascii: " ") || s[j] == UInt8(ascii: "\t")) { j += 1 }
        let start = j
        while j < s.count && Self.isTokenByte(s[j]) { j += 1 }
        guard j - start >= 8 else { return nil }
        return (start - i, j)
    }

    /// `sk-` followed by 16+ key characters (OpenAI/Anthropic style keys).
    private func skKeyMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i + 3 < s.count, s[i] == UInt8(ascii: "s"), s[i + 1] == UInt8(ascii: "k"), s[i + 2] == UInt8(ascii: "-"),
            i == 0 || !Self.isAlnum(s[i - 1])
        else { return nil }
        var j = i + 3
        while j < s.count && (Self.isAlnum(s[j]) || s[j] == UInt8(ascii: "-") || s[j] == UInt8(ascii: "_")) { j += 1 }
        return j - (i + 3) >= 16 ? j : nil
    }

    /// `…token=value`, `API_KEY: value`, `"secret": "value"`: masks the value.
    private func keyValueMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> (Int, Int)? {
        // Look back over an optional closing quote and the key name.
        var k = i - 1
        if k >= 0 && (s[k] == UInt8(ascii: "\"") || s[k] == UInt8(ascii: "'")) { k -= 1 }
        let keyEnd = k
        while k >= 0 && (Self.isAlnum(s[k]) || s[k] == UInt8(ascii: "_") || s[k] == UInt8(ascii: "-")) { k -= 1 }
        let keyLength = keyEnd - k
        guard keyLength >= 5 else { return nil }
        var suffixMatched = false
        for suffix in Self.secretKeySuffixes where suffix.count <= keyLength {
            var ok = true
            for (offset, c) in suffix.enumerated() where Self.lower(s[keyEnd - suffix.count + 1 + offset]) != c {
                ok = false
                break
            }
            if ok {
                suffixMatched = true
                break
            }
        }
        guard suffixMatched else { return nil }
        // Skip spaces and an opening quote, then take the value.
        var j = i + 1
        while j < s.count && s[j] == UInt8(ascii: " ") { j += 1 }
        var quote: UInt8?
        if j < s.count && (s[j] == UInt8(ascii: "\"") || s[j] == UInt8(ascii: "'")) {
            quote = s[j]
            j += 1
        }
        let start = j
        if let q = quote {
            while j < s.count && s[j] != q { j += 1 }
        } else {
            while j < s.count {
                let c = s[j]
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "&") || c == UInt8(ascii: ",")
                    || c == UInt8(ascii: ";") || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "}")
                {
                    break
                }
                j += 1
            }
        }
        guard j > start else { return nil }
        // Already masked (e.g. a line redacted twice) stays as it is.
        if j - start == Self.mask.count && s[start] == UInt8(ascii: "[") { return nil }
        return (start - i, j)
    }
}
