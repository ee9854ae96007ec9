/// Removes secrets from agent output before it is written anywhere, by the rules of
/// `SecretRule`: bearer and basic credentials, `sk-` keys, values of secret-named keys, URL
/// passwords, private key blocks, and the literal values of configured secrets. Works on
/// bytes, one line at a time, so it keeps up with an agent printing hundreds of MB/s; a
/// private key block that spans lines is carried from one line to the next in a `Carry`.
public struct Redactor: Sendable {
    public static let mask: [UInt8] = Array("[REDACTED]".utf8)

    /// A secret in a line: the rule that found it, the lead the rule keeps (`sk-`, `Bearer `,
    /// `password=`, `https://user:`, the BEGIN line; empty for a configured value) and the
    /// secret bytes `valueStart..<end` that are masked.
    public struct Match: Sendable, Equatable {
        public var rule: SecretRule
        public var leadStart: Int
        public var valueStart: Int
        public var end: Int
        /// A line inside a private key block whose BEGIN was on an earlier line.
        public var continued: Bool

        init(_ rule: SecretRule, lead: Int, value: Int, end: Int, continued: Bool = false) {
            self.rule = rule
            self.leadStart = lead
            self.valueStart = value
            self.end = end
            self.continued = continued
        }
    }

    /// What one line leaves for the next: an open private key block. A writer of a stream of
    /// lines (a task log) keeps one per stream; a block whose END never comes stops after
    /// `maxBlockLines` lines (a PEM key of 16 kbit is about 200).
    public struct Carry: Sendable, Equatable {
        public internal(set) var inPrivateKey = false
        var lines = 0
        public init() {}
    }

    public static let maxBlockLines = 400

    /// Exact secret values (at least 4 bytes long) to mask wherever they appear.
    let literals: [[UInt8]]
    /// Bytes that may start a rule; any other byte is copied without a second look.
    let interesting: [Bool]

    public init(secretValues: [String] = []) {
        literals = secretValues.filter { $0.utf8.count >= 4 }.map { Array($0.utf8) }.sorted { $0.count > $1.count }
        var table = [Bool](repeating: false, count: 256)
        for b in "bBsS=:".utf8 { table[Int(b)] = true }
        for l in literals { table[Int(l[0])] = true }
        interesting = table
        assert(
            Self.secretKeySuffixes.allSatisfy { "yntd".utf8.contains($0.last ?? 0) },
            "endsWithSecretName turns keys away by their last byte: y, n, t or d")
    }

    /// The line (or lines: a block may span newlines inside it) with every secret replaced by
    /// `[REDACTED]`.
    public func redact(_ line: String) -> String {
        var out: [UInt8] = []
        var copy = line
        var carry = Carry()
        copy.withUTF8 { redact($0, into: &out, carry: &carry) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the redacted form of `input` (one line, no newline) to `out`. A private key
    /// block opened here is masked to the end of `input` only.
    public func redact(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var carry = Carry()
        redact(input, into: &out, carry: &carry)
    }

    /// Appends the redacted form of one line of a stream to `out`; `carry` goes from each line
    /// to the next, so the lines of a private key block are masked whole.
    public func redact(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], carry: inout Carry) {
        var copyFrom = 0
        scan(input, carry: &carry) { m in
            out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copyFrom..<m.valueStart]))
            out.append(contentsOf: Self.mask)
            copyFrom = m.end
        }
        if copyFrom < input.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: input[copyFrom..<input.count])) }
    }

    /// Every secret in one line of a stream, in order (what `nightshift guard` reports).
    public func matches(in input: UnsafeBufferPointer<UInt8>, carry: inout Carry) -> [Match] {
        var found: [Match] = []
        scan(input, carry: &carry) { found.append($0) }
        return found
    }

    /// Calls `found` for each secret of the line, left to right, never overlapping.
    @inline(__always)
    func scan(_ s: UnsafeBufferPointer<UInt8>, carry: inout Carry, _ found: (Match) -> Void) {
        let n = s.count
        var i = 0
        if carry.inPrivateKey {
            if let e = Self.find(Self.endMarker, in: s, from: 0) {
                if e > 0 && !Self.isMask(s, 0, e) { found(Match(.privateKey, lead: 0, value: 0, end: e, continued: true)) }
                carry = Carry()
                i = e + Self.endMarker.count
            } else {
                if n > 0 && !Self.isMask(s, 0, n) { found(Match(.privateKey, lead: 0, value: 0, end: n, continued: true)) }
                carry.lines += 1
                if carry.lines >= Self.maxBlockLines { carry = Carry() }
                return
            }
        }
        while i < n {
            guard interesting[Int(s[i])] else {
                i += 1
                continue
            }
            if let m = match(s, at: i, carry: &carry) {
                found(m)
                i = m.end
            } else {
                i += 1
            }
        }
    }

    /// The rule that matches at `i` (a byte the table marks), if any.
    @inline(__always)
    func match(_ s: UnsafeBufferPointer<UInt8>, at i: Int, carry: inout Carry) -> Match? {
        if !literals.isEmpty, let end = literalMatch(s, at: i) {
            return Match(.configuredValue, lead: i, value: i, end: end)
        }
        // Each matcher is called only when the bytes around `i` can start it: most bytes of
        // ordinary output that the table lets through stop at these one-byte checks.
        let b = s[i]
        switch b {
        case UInt8(ascii: "b"), UInt8(ascii: "B"):
            if i > 0 && Self.isAlnum(s[i - 1]) {
                return nil
            }
            if b == UInt8(ascii: "B") && i >= 5 && s[i - 1] == UInt8(ascii: "-"),
                let m = Self.privateKeyMatch(s, at: i, carry: &carry)
            {
                return m
            }
            return Self.bearerMatch(s, at: i) ?? Self.basicMatch(s, at: i)
        case UInt8(ascii: "s"), UInt8(ascii: "S"):
            return Self.apiKeyMatch(s, at: i)
        case UInt8(ascii: "="):
            return Self.keyValueMatch(s, at: i)
        case UInt8(ascii: ":"):
            if let m = Self.keyValueMatch(s, at: i) { return m }
            guard i + 3 < s.count, s[i + 1] == UInt8(ascii: "/"), s[i + 2] == UInt8(ascii: "/") else { return nil }
            return Self.urlCredentialsMatch(s, at: i)
        default:
            return nil
        }
    }

    private func literalMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        for lit in literals where lit[0] == s[i] && i + lit.count <= s.count {
            var j = 1
            while j < lit.count && s[i + j] == lit[j] { j += 1 }
            if j == lit.count { return i + lit.count }
        }
        return nil
    }
}
