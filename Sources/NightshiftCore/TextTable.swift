/// Aligned text columns that fit a total width: the client commands' tables.
///
/// A table wider than its width gives up characters from its flexible columns (free text such
/// as a direction or a message), always from the widest one first, so identifiers and states
/// stay whole; a cut cell ends in `…`. When the flexible columns alone cannot make it fit (a
/// very narrow terminal) the table is left wider rather than cutting ids.
public struct TextTable: Sendable {
    public var header: [String]
    /// Indexes of the columns that may be cut.
    public var flexible: Set<Int>
    public var rows: [[String]] = []
    /// Spaces between columns.
    public var gap = 2

    /// `flexible` names the header titles whose columns may be cut.
    public init(_ header: [String], flexible: Set<String> = []) {
        self.header = header
        self.flexible = Set(header.indices.filter { flexible.contains(header[$0]) })
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    /// The header line and one line per row, each at most `width` columns when that is possible;
    /// nil `width` = no limit. No line ends in spaces.
    public func lines(width: Int?) -> [String] {
        let cells = ([header] + rows).map { row in header.indices.map { Self.oneLine(row.indices.contains($0) ? row[$0] : "") } }
        let widths = fitted(cells, width: width)
        return cells.map { row in
            var line = ""
            for (i, cell) in row.enumerated() {
                let text = Self.cut(cell, to: widths[i])
                line += i == row.count - 1 ? text : text + String(repeating: " ", count: widths[i] - Self.width(of: text) + gap)
            }
            return Self.trimTrailingSpaces(line)
        }
    }

    /// The table as one string (lines joined with newlines).
    public func render(width: Int?) -> String { lines(width: width).joined(separator: "\n") }

    /// Column widths: natural widths, then the widest flexible column shrunk one column at a
    /// time until the total fits or every flexible column is down to its title's width.
    func fitted(_ cells: [[String]], width: Int?) -> [Int] {
        var widths = header.indices.map { i in cells.map { Self.width(of: $0[i]) }.max() ?? 0 }
        guard let width, !widths.isEmpty else { return widths }
        let floor = header.indices.map { max(Self.width(of: header[$0]), Self.minimumFlexibleWidth) }
        var excess = widths.reduce(0, +) + gap * (widths.count - 1) - width
        while excess > 0 {
            let shrinkable = flexible.filter { widths[$0] > floor[$0] }
            guard let widest = shrinkable.max(by: { (widths[$0], $1) < (widths[$1], $0) }) else { break }
            widths[widest] -= 1
            excess -= 1
        }
        return widths
    }

    /// A flexible column keeps at least this many columns (and at least its title).
    static let minimumFlexibleWidth = 4

    /// `text` in at most `width` columns; a cut ends in `…` (which takes one column).
    public static func cut(_ text: String, to width: Int) -> String {
        guard Self.width(of: text) > width else { return text }
        guard width > 0 else { return "" }
        var kept = ""
        var used = 0
        for c in text {
            let w = Self.width(of: c)
            if used + w > width - 1 { break }
            kept.append(c)
            used += w
        }
        return kept + "…"
    }

    /// Terminal columns `text` takes: one per character, two for wide East Asian characters and
    /// emoji, none for zero-width ones. Counted per grapheme, so a combining accent adds nothing.
    public static func width(of text: String) -> Int { text.reduce(0) { $0 + width(of: $1) } }

    static func width(of c: Character) -> Int {
        guard let first = c.unicodeScalars.first else { return 0 }
        if c.unicodeScalars.allSatisfy({ isZeroWidth($0) }) { return 0 }
        if first.properties.isEmojiPresentation || c.unicodeScalars.contains(where: { $0.value == 0xFE0F }) { return 2 }
        return isWide(first.value) ? 2 : 1
    }

    static func isZeroWidth(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control: return true
        default: return false
        }
    }

    /// East Asian Wide and Fullwidth blocks (the common ones; not the full Unicode table).
    static func isWide(_ v: UInt32) -> Bool {
        (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
            || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
            || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
            || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x20000...0x3FFFD).contains(v)
    }

    /// A cell is one line: each run of newlines and tabs becomes one space.
    public static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline || $0 == "\t" }) else { return text }
        var out = ""
        var inBreak = false
        for c in text {
            if c.isNewline || c == "\t" {
                if !inBreak { out.append(" ") }
                inBreak = true
            } else {
                out.append(c)
                inBreak = false
            }
        }
        return out
    }

    static func trimTrailingSpaces(_ s: String) -> String {
        var s = s
        while s.last == " " { s.removeLast() }
        return s
    }
}
