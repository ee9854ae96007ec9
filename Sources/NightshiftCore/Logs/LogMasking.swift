/// Deterministic masking of a log message into a template (issue 13, point 3): the variable
/// parts (uuids, hashes and hex, ips and hosts, urls, paths, dates and durations, numbers,
/// quoted strings) become placeholders, so one problem seen a thousand times is one template.
///
/// One pass over the UTF-8 bytes, no regular expressions: it runs on every ingested line.
/// The output is a pure function of the input and `version`; changing what is masked means a
/// new `version`, which is part of every fingerprint, so old lines keep their fingerprints
/// and only new lines get the new ones.
public enum LogMasking {
    /// Bump when the masking changes what it produces for any input.
    public static let version = 1
    /// Templates are cut here: a fingerprint must not depend on an endless tail.
    public static let maxTemplateBytes = 512

    /// The template of `message`.
    public static func mask(_ message: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(min(message.utf8.count, maxTemplateBytes) + 16)
        var bytes = Array(message.utf8)
        if bytes.count > 4 * maxTemplateBytes { bytes.removeLast(bytes.count - 4 * maxTemplateBytes) }
        var i = 0
        var lastWasSpace = true
        while i < bytes.count && out.count < maxTemplateBytes {
            let b = bytes[i]
            if isSpace(b) {
                if !lastWasSpace { out.append(0x20) }
                lastWasSpace = true
                i += 1
                continue
            }
            lastWasSpace = false
            if b == 0x22 || b == 0x27 || b == 0x60, let end = closingQuote(bytes, from: i) {
                out.append(contentsOf: Self.str)
                i = end + 1
                continue
            }
            if isDelimiter(b) || isQuote(b) {
                // A delimiter, or a quote that closes nothing (an apostrophe).
                out.append(b)
                i += 1
                continue
            }
            var j = i
            while j < bytes.count && !isSpace(bytes[j]) && !isDelimiter(bytes[j]) && !isQuote(bytes[j]) { j += 1 }
            // Sentence punctuation after a word is kept apart from it.
            var end = j
            while end > i + 1 && (bytes[end - 1] == 0x2E || bytes[end - 1] == 0x3A || bytes[end - 1] == 0x3D) { end -= 1 }
            maskWord(bytes[i..<end], into: &out)
            out.append(contentsOf: bytes[end..<j])
            i = j
        }
        while out.last == 0x20 { out.removeLast() }
        if out.count > maxTemplateBytes { out.removeLast(out.count - maxTemplateBytes) }
        return String(decoding: out, as: UTF8.self)
    }

    static let str = Array("<str>".utf8)
    static let num = Array("<n>".utf8)
    static let hex = Array("<hex>".utf8)

    @inline(__always) public static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    @inline(__always) static func isQuote(_ b: UInt8) -> Bool { b == 0x22 || b == 0x27 || b == 0x60 }
    /// ( ) [ ] { } < > , ; |
    @inline(__always) static func isDelimiter(_ b: UInt8) -> Bool {
        switch b {
        case 0x28, 0x29, 0x5B, 0x5D, 0x7B, 0x7D, 0x3C, 0x3E, 0x2C, 0x3B, 0x7C: return true
        default: return false
        }
    }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func isHex(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46)
    }
    @inline(__always) static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

    /// The index of the quote closing the one at `start`, on the same line and within 1 KiB; an
    /// apostrophe inside a word (`don't`) opens nothing.
    static func closingQuote(_ bytes: [UInt8], from start: Int) -> Int? {
        let q = bytes[start]
        if q == 0x27 && start > 0 && isAlpha(bytes[start - 1]) { return nil }
        var k = start + 1
        while k < bytes.count && k - start < 1024 {
            let c = bytes[k]
            if c == 0x0A { return nil }
            if c == 0x5C {
                k += 2
                continue
            }
            if c == q {
                if q == 0x27 && k + 1 < bytes.count && isAlpha(bytes[k + 1]) { return nil }
                return k
            }
            k += 1
        }
        return nil
    }

    /// One word: a whole-word kind (url, path, uuid, date, ip, host, duration, hex, number),
    /// else the word with its digit runs and long hex runs masked.
    static func maskWord(_ w: ArraySlice<UInt8>, into out: inout [UInt8]) {
        if let kind = wholeKind(w) {
            out.append(contentsOf: kind.utf8)
            return
        }
        // key=value: the value is masked on its own.
        if let eq = w.firstIndex(of: 0x3D), eq > w.startIndex, eq < w.endIndex - 1 {
            maskWord(w[w.startIndex..<eq], into: &out)
            out.append(0x3D)
            maskWord(w[(eq + 1)..<w.endIndex], into: &out)
            return
        }
        var i = w.startIndex
        while i < w.endIndex {
            let b = w[i]
            if isHex(b) {
                var j = i
                var digits = 0
                while j < w.endIndex && isHex(w[j]) {
                    if isDigit(w[j]) { digits += 1 }
                    j += 1
                }
                let boundedLeft = i == w.startIndex || !isAlpha(w[i - 1])
                let boundedRight = j == w.endIndex || !isAlpha(w[j])
                if j - i >= 8 && digits > 0 && boundedLeft && boundedRight {
                    out.append(contentsOf: hex)
                    i = j
                    continue
                }
                if digits == j - i {
                    out.append(contentsOf: num)
                    i = j
                    continue
                }
                // Letters and digits mixed in a short run: mask only the digits.
                while i < j {
                    if isDigit(w[i]) {
                        while i < j && isDigit(w[i]) { i += 1 }
                        out.append(contentsOf: num)
                    } else {
                        out.append(w[i])
                        i += 1
                    }
                }
                continue
            }
            out.append(b)
            i += 1
        }
    }

    /// The placeholder for a word that is one variable thing as a whole.
    static func wholeKind(_ w: ArraySlice<UInt8>) -> String? {
        guard let first = w.first else { return nil }
        if let sep = findScheme(w) { return sep }
        if first == 0x2F || (first == 0x7E && w.count > 1 && w[w.startIndex + 1] == 0x2F)
            || (first == 0x2E && w.count > 2 && (w[w.startIndex + 1] == 0x2F || w[w.startIndex + 1] == 0x2E))
        {
            return w.count > 1 ? "<path>" : nil
        }
        if isUUID(w) { return "<uuid>" }
        if isDate(w) { return "<date>" }
        if isTime(w) { return "<date>" }
        if isIPv4(w) { return "<ip>" }
        if w.count >= 3 && w.firstIndex(of: 0x3A) != nil && w.allSatisfy({ isHex($0) || $0 == 0x3A })
            && count(of: 0x3A, in: w) >= 2
        {
            return "<ip>"
        }
        if isHost(w) { return "<host>" }
        if isDuration(w) { return "<dur>" }
        if w.count > 2 && first == 0x30 && (w[w.startIndex + 1] | 0x20) == 0x78 && w.dropFirst(2).allSatisfy(isHex) {
            return "<hex>"
        }
        if w.count > 1 && !w.contains(0x3D) && count(of: 0x2F, in: w) >= 2 { return "<path>" }
        if isNumber(w) { return "<n>" }
        return nil
    }

    @inline(__always) static func count(of byte: UInt8, in w: ArraySlice<UInt8>) -> Int {
        var n = 0
        for b in w where b == byte { n += 1 }
        return n
    }

    /// Whether `w`, lowercased, is one of `units`: ASCII bytes are compared as they are,
    /// anything else goes through `String.lowercased()` as before.
    static func isUnit(_ w: ArraySlice<UInt8>, _ units: [[UInt8]], _ unitStrings: [String]) -> Bool {
        guard w.allSatisfy({ $0 < 0x80 }) else {
            return unitStrings.contains(String(decoding: w, as: UTF8.self).lowercased())
        }
        return units.contains { u in
            u.count == w.count && zip(u, w).allSatisfy { $0 == ($1 >= 0x41 && $1 <= 0x5A ? $1 | 0x20 : $1) }
        }
    }

    static let durationUnitStrings = ["ms", "s", "m", "h", "d", "us", "ns", "µs", "sec", "secs", "min", "mins"]
    static let durationUnits = durationUnitStrings.map { Array($0.utf8) }
    static let numberUnitStrings = ["%", "b", "kb", "mb", "gb", "kib", "mib", "gib", "k", "x"]
    static let numberUnits = numberUnitStrings.map { Array($0.utf8) }

    /// `scheme://...` (http, https, postgres, redis, ...).
    static func findScheme(_ w: ArraySlice<UInt8>) -> String? {
        var i = w.startIndex
        while i < w.endIndex && (isAlpha(w[i]) || w[i] == 0x2B || w[i] == 0x2D || w[i] == 0x2E || isDigit(w[i])) { i += 1 }
        guard i > w.startIndex, i + 2 < w.endIndex, w[i] == 0x3A, w[i + 1] == 0x2F, w[i + 2] == 0x2F else { return nil }
        return "<url>"
    }

    static func isUUID(_ w: ArraySlice<UInt8>) -> Bool {
        guard w.count == 36 else { return false }
        for (k, b) in w.enumerated() {
            if k == 8 || k == 13 || k == 18 || k == 23 {
                if b != 0x2D { return false }
            } else if !isHex(b) {
                return false
            }
        }
        return true
    }

    /// `2026-12-01`, `2026-12-01T22:00:00.123Z`, `2026/12/01` and what follows them.
    static func isDate(_ w: ArraySlice<UInt8>) -> Bool {
        guard w.count >= 10 else { return false }
        let s = w.startIndex
        @inline(__always) func a(_ k: Int) -> UInt8 { w[s + k] }
        let year = isDigit(a(0)) && isDigit(a(1)) && isDigit(a(2)) && isDigit(a(3))
        let separators = (a(4) == 0x2D || a(4) == 0x2F) && a(7) == a(4)
        return year && separators && isDigit(a(5)) && isDigit(a(6)) && isDigit(a(8)) && isDigit(a(9))
    }

    /// `22:00`, `22:00:00`, `22:00:00.123`, with an optional zone or `Z`.
    static func isTime(_ w: ArraySlice<UInt8>) -> Bool {
        let count = w.count
        guard count >= 5 else { return false }
        let s = w.startIndex
        @inline(__always) func a(_ k: Int) -> UInt8 { w[s + k] }
        var i = 0
        while i < count && i < 2 && isDigit(a(i)) { i += 1 }
        guard i >= 1, i < count, a(i) == 0x3A, i + 2 < count, isDigit(a(i + 1)), isDigit(a(i + 2))
        else { return false }
        return count == i + 3 || a(i + 3) == 0x3A || a(i + 3) == 0x2E || a(i + 3) == 0x5A || a(i + 3) == 0x2B
    }

    /// `10.0.0.1`, `10.0.0.1:5432`.
    static func isIPv4(_ w: ArraySlice<UInt8>) -> Bool {
        var parts = 0
        var digits = 0
        var i = w.startIndex
        while i < w.endIndex {
            let b = w[i]
            if isDigit(b) {
                digits += 1
                if digits > 3 { return false }
            } else if b == 0x2E {
                guard digits > 0 else { return false }
                parts += 1
                digits = 0
            } else if b == 0x3A && parts == 3 && digits > 0 {
                return w[(i + 1)...].allSatisfy(isDigit) && i + 1 < w.endIndex
            } else {
                return false
            }
            i += 1
        }
        return parts == 3 && digits > 0
    }

    /// A dotted name with a port (`db.internal:5432`), or three or more labels ending in a
    /// letters-only label (`api.example.com`).
    static func isHost(_ w: ArraySlice<UInt8>) -> Bool {
        var name = w
        var hasPort = false
        if let colon = w.lastIndex(of: 0x3A) {
            let port = w[(colon + 1)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy(isDigit) else { return false }
            name = w[w.startIndex..<colon]
            hasPort = true
        }
        // The labels (split at dots, empty ones kept), walked without building them.
        var labels = 1
        var labelLength = 0
        var labelAlpha = true
        for b in name {
            if b == 0x2E {
                guard labelLength > 0 else { return false }
                labels += 1
                labelLength = 0
                labelAlpha = true
            } else if isAlpha(b) || isDigit(b) || b == 0x2D {
                labelLength += 1
                if !isAlpha(b) { labelAlpha = false }
            } else {
                return false
            }
        }
        guard labels >= 2, labelLength > 0 else { return false }
        if hasPort { return true }
        guard labelLength >= 2, labelAlpha else { return false }
        return labels >= 3
    }

    /// `250ms`, `1.5s`, `3m`, `2h`, `10us`, `5ns`, `1d`.
    static func isDuration(_ w: ArraySlice<UInt8>) -> Bool {
        var i = w.startIndex
        var digits = 0
        while i < w.endIndex && (isDigit(w[i]) || w[i] == 0x2E) {
            if isDigit(w[i]) { digits += 1 }
            i += 1
        }
        guard digits > 0, i < w.endIndex else { return false }
        return isUnit(w[i...], durationUnits, durationUnitStrings)
    }

    /// `42`, `-3`, `1.5`, `1e9`, `12%`, `3.2GB`-like sizes.
    static func isNumber(_ w: ArraySlice<UInt8>) -> Bool {
        var i = w.startIndex
        if w[i] == 0x2D || w[i] == 0x2B { i += 1 }
        var digits = 0
        while i < w.endIndex && (isDigit(w[i]) || w[i] == 0x2E) {
            if isDigit(w[i]) { digits += 1 }
            i += 1
        }
        guard digits > 0 else { return false }
        if i == w.endIndex { return true }
        return isUnit(w[i...], numberUnits, numberUnitStrings)
    }
}
