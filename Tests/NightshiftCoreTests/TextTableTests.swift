import NightshiftCore
import Testing

@Suite("TextTable")
struct TextTableTests {
    static func table(_ rows: [[String]]) -> TextTable {
        var t = TextTable(["ID", "STATUS", "MESSAGE"], flexible: ["MESSAGE"])
        for r in rows { t.append(r) }
        return t
    }

    @Test("columns align at their natural widths when there is room, with no trailing spaces")
    func natural() {
        let t = Self.table([["a", "open", "short"], ["bbbb", "resolved", "a longer message"]])
        #expect(
            t.lines(width: 100) == [
                "ID    STATUS    MESSAGE",
                "a     open      short",
                "bbbb  resolved  a longer message",
            ])
        #expect(t.lines(width: nil) == t.lines(width: 100))
    }

    @Test("a table wider than its width cuts the flexible column with …, and only that one")
    func cutsFlexible() {
        let t = Self.table([["task_1", "running", "implement the whole thing carefully"]])
        let lines = t.lines(width: 30)
        #expect(lines == ["ID      STATUS   MESSAGE", "task_1  running  implement th…"])
        #expect(lines.allSatisfy { TextTable.width(of: $0) <= 30 })
    }

    @Test("the widest flexible column gives up columns first")
    func widestFirst() {
        var t = TextTable(["A", "TITLE", "REASON"], flexible: ["TITLE", "REASON"])
        t.append(["1", "twelve chars", String(repeating: "r", count: 30)])
        // natural: 1 + 12 + 30 + 2 gaps of 2 = 47; at 40 only REASON (the widest) shrinks.
        let at40 = t.lines(width: 40)
        #expect(at40[1] == "1  twelve chars  " + String(repeating: "r", count: 22) + "…")
        // at 28: REASON first, down to TITLE's width (12); then, at equal widths, the leftmost.
        let at28 = t.lines(width: 28)
        #expect(at28.allSatisfy { TextTable.width(of: $0) <= 28 })
        #expect(at28[1] == "1  twelve cha…  rrrrrrrrrrr…")
    }

    @Test("ids are never cut: a table that cannot fit stays wider than asked")
    func neverCutsFixedColumns() {
        let t = Self.table([["task_0123456789abcdef", "needs_decision", "a message that is long"]])
        let lines = t.lines(width: 20)
        #expect(lines[1].hasPrefix("task_0123456789abcdef  needs_decision  "))
        // The flexible column stops at its minimum (its title, MESSAGE), cut with …
        #expect(lines[1].hasSuffix("  a mess…"))
    }

    @Test("width counts characters, not bytes: accents, CJK and emoji")
    func unicodeWidth() {
        #expect(TextTable.width(of: "café") == 4)
        #expect(TextTable.width(of: "cafe\u{301}") == 4)  // combining acute accent
        #expect(TextTable.width(of: "日本語") == 6)
        #expect(TextTable.width(of: "ok 🚀") == 5)
        #expect(TextTable.width(of: "→ ×3 …") == 6)
        #expect(TextTable.cut("日本語のテキスト", to: 7) == "日本語…")
        #expect(TextTable.cut("naïve résumé", to: 8) == "naïve r…")
        #expect(TextTable.cut("short", to: 5) == "short")
        #expect(TextTable.cut("", to: 0) == "")
    }

    @Test("a cell is one line: each run of newlines and tabs becomes one space")
    func oneLineCells() {
        let t = Self.table([["x", "open", "line one\nline two\tend"]])
        #expect(t.lines(width: nil)[1] == "x   open    line one line two end")
        #expect(TextTable.oneLine("Review it.\n\nItem: x\r\n\ty") == "Review it. Item: x y")
    }

    @Test("alignment uses display width, so a row with wide characters lines up")
    func alignsWide() {
        var t = TextTable(["NAME", "N"])
        t.append(["日本", "1"])
        t.append(["abcde", "2"])
        #expect(t.lines(width: nil) == ["NAME   N", "日本   1", "abcde  2"])
    }
}
