/// The matchers of `SecretRule`, one per rule, each called at a byte that may start it.
extension Redactor {
    static let secretKeySuffixes: [[UInt8]] = [
        "api_key", "apikey", "api-key", "token", "secret", "password", "passwd", "access_key", "private_key", "auth_key",
    ].map { Array($0.utf8) }
    static let beginMarker = Array("-----BEGIN ".utf8)
    static let endMarker = Array("-----END".utf8)
    static let privateKeyWords = Array("PRIVATE KEY".utf8)
    static let dashes = Array("-----".utf8)

    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }

    @inline(__always) static func isTokenByte(_ b: UInt8) -> Bool {
        isAlnum(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".") || b == UInt8(ascii: "~")
            || b == UInt8(ascii: "+") || b == UInt8(ascii: "/") || b == UInt8(ascii: "=")
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") }

    /// Whether `s[from..<to]` is already `[REDACTED]` (a line redacted twice stays as it is).
    static func isMask(_ s: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> Bool {
        guard to - from == mask.count else { return false }
        for k in 0..<mask.count where s[from + k] != mask[k] { return false }
        return true
    }

    /// Whether "bearer" starts at `i` (any case; the caller checked that 6 bytes follow).
    @inline(__always) static func isBearer(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        lower(s[i]) == 0x62 && lower(s[i + 1]) == 0x65 && lower(s[i + 2]) == 0x61 && lower(s[i + 3]) == 0x72
            && lower(s[i + 4]) == 0x65 && lower(s[i + 5]) == 0x72
    }

    /// Whether "basic" starts at `i` (any case; the caller checked that 5 bytes follow).
    @inline(__always) static func isBasic(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        lower(s[i]) == 0x62 && lower(s[i + 1]) == 0x61 && lower(s[i + 2]) == 0x73 && lower(s[i + 3]) == 0x69
            && lower(s[i + 4]) == 0x63
    }

    /// The first index at or after `from` where `needle` starts.
    static func find(_ needle: [UInt8], in s: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard needle.count <= s.count else { return nil }
        var i = from
        while i + needle.count <= s.count {
            if s[i] == needle[0] {
                var k = 1
                while k < needle.count && s[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    /// `Bearer <token of 8+ chars>`: keeps "Bearer " and masks the token.
    static func bearerMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard i + 7 < s.count, i == 0 || !isAlnum(s[i - 1]), isBearer(s, i), isSpace(s[i + 6])
        else { return nil }
        var j = i + 6
        while j < s.count && isSpace(s[j]) { j += 1 }
        let start = j
        while j < s.count && isTokenByte(s[j]) { j += 1 }
        guard j - start >= 8 else { return nil }
        return Match(.bearerToken, lead: i, value: start, end: j)
    }

    /// `Basic <base64>` whose text decodes to `user:password`: keeps "Basic ", masks the rest.
    /// (The decoding check keeps prose such as "basic building blocks" out.)
    static func basicMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard i + 6 < s.count, i == 0 || !isAlnum(s[i - 1]), isBasic(s, i), isSpace(s[i + 5])
        else { return nil }
        var j = i + 5
        while j < s.count && isSpace(s[j]) { j += 1 }
        let start = j
        var bits: UInt32 = 0
        var nbits = 0
        var colon = false
        while j < s.count {
            let c = s[j]
            let v: UInt32
            if c >= 0x41 && c <= 0x5A {
                v = UInt32(c - 0x41)
            } else if c >= 0x61 && c <= 0x7A {
                v = UInt32(c - 0x61 + 26)
            } else if c >= 0x30 && c <= 0x39 {
                v = UInt32(c - 0x30 + 52)
            } else if c == UInt8(ascii: "+") {
                v = 62
            } else if c == UInt8(ascii: "/") {
                v = 63
            } else {
                break
            }
            bits = (bits << 6) | v
            nbits += 6
            if nbits >= 8 {
                nbits -= 8
                if (bits >> UInt32(nbits)) & 0xFF == UInt32(UInt8(ascii: ":")) { colon = true }
            }
            j += 1
        }
        while j < s.count && s[j] == UInt8(ascii: "=") && j - start < 200 { j += 1 }
        guard j - start >= 8, colon, j == s.count || !isTokenByte(s[j]) else { return nil }
        return Match(.basicAuth, lead: i, value: start, end: j)
    }

    /// `sk-` followed by 16+ key characters (OpenAI/Anthropic style keys).
    static func apiKeyMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard i + 3 < s.count, s[i] == UInt8(ascii: "s"), s[i + 1] == UInt8(ascii: "k"), s[i + 2] == UInt8(ascii: "-"),
            i == 0 || !isAlnum(s[i - 1])
        else { return nil }
        var j = i + 3
        while j < s.count && (isAlnum(s[j]) || s[j] == UInt8(ascii: "-") || s[j] == UInt8(ascii: "_")) { j += 1 }
        return j - (i + 3) >= 16 ? Match(.apiKey, lead: i, value: i + 3, end: j) : nil
    }

    /// `…token=value`, `API_KEY = value`, `API_KEY: value`, `"secret": "value"`: masks the
    /// value. Spaces may stand around `=` (not `==`, `!=`, `<=`, `>=`, `=>`); a value that is a
    /// reference to a secret rather than one (`$TOKEN`, `${…}`, `{{…}}`, a call, a subscript,
    /// `config.token`) is left alone.
    static func keyValueMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        let isEquals = s[i] == UInt8(ascii: "=")
        var k = i - 1
        if isEquals {
            if i + 1 < s.count && (s[i + 1] == UInt8(ascii: "=") || s[i + 1] == UInt8(ascii: ">")) { return nil }
            while k >= 0 && isSpace(s[k]) { k -= 1 }
            if k >= 0 {
                let p = s[k]
                if p == UInt8(ascii: "=") || p == UInt8(ascii: "!") || p == UInt8(ascii: "<") || p == UInt8(ascii: ">") {
                    return nil
                }
            }
        }
        // Look back over an optional closing quote and the key name.
        if k >= 0 && (s[k] == UInt8(ascii: "\"") || s[k] == UInt8(ascii: "'")) { k -= 1 }
        let keyEnd = k
        while k >= 0 && (isAlnum(s[k]) || s[k] == UInt8(ascii: "_") || s[k] == UInt8(ascii: "-")) { k -= 1 }
        let keyLength = keyEnd - k
        guard keyLength >= 5, endsWithSecretName(s, keyEnd: keyEnd, keyLength: keyLength) else { return nil }
        // Skip spaces and an opening quote, then take the value.
        var j = i + 1
        while j < s.count && isSpace(s[j]) { j += 1 }
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
                if isSpace(c) || c == UInt8(ascii: "&") || c == UInt8(ascii: ",") || c == UInt8(ascii: ";")
                    || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "}")
                {
                    break
                }
                j += 1
            }
        }
        guard j > start, !isMask(s, start, j), !isReference(s, start, j, quoted: quote != nil) else { return nil }
        var lead = k + 1
        if lead > 0 && (s[lead - 1] == UInt8(ascii: "\"") || s[lead - 1] == UInt8(ascii: "'")) { lead -= 1 }
        return Match(.keyValue, lead: lead, value: start, end: j)
    }

    /// Whether the key ending at `keyEnd` ends with one of the secret names.
    @inline(__always)
    static func endsWithSecretName(_ s: UnsafeBufferPointer<UInt8>, keyEnd: Int, keyLength: Int) -> Bool {
        // Every name ends in y, n, t or d: most keys are turned away by their last byte.
        let last = lower(s[keyEnd])
        guard last == UInt8(ascii: "y") || last == UInt8(ascii: "n") || last == UInt8(ascii: "t") || last == UInt8(ascii: "d")
        else { return false }
        for suffix in secretKeySuffixes where suffix.count <= keyLength {
            var ok = true
            for (offset, c) in suffix.enumerated() where lower(s[keyEnd - suffix.count + 1 + offset]) != c {
                ok = false
                break
            }
            if ok { return true }
        }
        return false
    }

    /// A value that names where a secret comes from instead of holding one: `$NAME`, `${…}`,
    /// `$(…)`, `{{…}}`, `<placeholder>`, and (unquoted) a call or subscript, or a dotted path
    /// whose later part names a secret again (`config.apiKey`, `process.env.TOKEN`).
    static func isReference(_ s: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, quoted: Bool) -> Bool {
        let first = s[start]
        let second = start + 1 < end ? s[start + 1] : 0
        if first == UInt8(ascii: "$") {
            if second == UInt8(ascii: "{") || second == UInt8(ascii: "(") || second == UInt8(ascii: "_")
                || (second >= 0x41 && second <= 0x5A)
            {
                return true
            }
        }
        if first == UInt8(ascii: "{") && second == UInt8(ascii: "{") { return true }
        if first == UInt8(ascii: "<") && s[end - 1] == UInt8(ascii: ">") { return true }
        guard !quoted else { return false }
        var dot = -1
        for j in start..<end {
            let c = s[j]
            if c == UInt8(ascii: "(") || c == UInt8(ascii: "[") { return true }
            if c == UInt8(ascii: ".") {
                dot = j
            } else if !(isAlnum(c) || c == UInt8(ascii: "_")) {
                return false
            }
        }
        // A dotted identifier path whose last segment is itself named like a secret.
        guard dot > start, dot < end - 1, !(first >= 0x30 && first <= 0x39) else { return false }
        return endsWithSecretName(s, keyEnd: end - 1, keyLength: end - 1 - dot)
    }

    /// `scheme://user:password@host`: keeps `scheme://user:`, masks the password.
    static func urlCredentialsMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Match? {
        guard i > 0, i + 3 < s.count, s[i + 1] == UInt8(ascii: "/"), s[i + 2] == UInt8(ascii: "/") else { return nil }
        var k = i - 1
        while k >= 0
            && (isAlnum(s[k]) || s[k] == UInt8(ascii: "+") || s[k] == UInt8(ascii: ".") || s[k] == UInt8(ascii: "-"))
        {
            k -= 1
        }
        guard k + 1 < i, s[k + 1] >= 0x41 else { return nil }  // a scheme starts with a letter
        // The authority ends at the path, query, fragment or the end of the word; its user info
        // ends at its last '@'.
        var j = i + 3
        var colon = -1
        var at = -1
        while j < s.count {
            let c = s[j]
            if c == UInt8(ascii: "/") || c == UInt8(ascii: "?") || c == UInt8(ascii: "#") || isSpace(c)
                || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") || c == UInt8(ascii: "<") || c == UInt8(ascii: ">")
                || c == UInt8(ascii: "`")
            {
                break
            }
            if c == UInt8(ascii: "@") {
                at = j
            } else if c == UInt8(ascii: ":") && colon < 0 && at < 0 {
                colon = j
            }
            j += 1
        }
        guard colon >= 0, at > colon + 1, at + 1 < s.count, !isMask(s, colon + 1, at) else { return nil }
        return Match(.urlCredentials, lead: k + 1, value: colon + 1, end: at)
    }

    /// `-----BEGIN … PRIVATE KEY-----` and the key after it, to `-----END` on the same line or,
    /// when the line ends first, to the end of the line with `carry` open for the next lines.
    static func privateKeyMatch(_ s: UnsafeBufferPointer<UInt8>, at i: Int, carry: inout Carry) -> Match? {
        let lead = i - 5
        guard lead >= 0, i + 6 < s.count else { return nil }
        for k in 0..<beginMarker.count where s[lead + k] != beginMarker[k] { return nil }
        guard let close = find(dashes, in: s, from: i + 6), find(privateKeyWords, in: s, from: i + 6).map({ $0 < close }) ?? false
        else { return nil }
        let start = close + 5
        if let end = find(endMarker, in: s, from: start) {
            guard end > start, !isMask(s, start, end) else { return nil }
            return Match(.privateKey, lead: lead, value: start, end: end)
        }
        // The block goes on below. A BEGIN line with nothing after it still matches (an empty
        // value, so the guard reports the block where it starts).
        carry.inPrivateKey = true
        carry.lines = 0
        guard !isMask(s, start, s.count) else { return nil }
        return Match(.privateKey, lead: lead, value: start, end: s.count)
    }
}
