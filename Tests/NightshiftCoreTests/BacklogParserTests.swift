import Foundation
import NightshiftCore
import Testing

/// The two backlog forms (numbered lines, one file per item) and their errors: each names the
/// file and the line, so an operator can fix a malformed backlog without guessing.
@Suite("BacklogParser")
struct BacklogParserTests {
    static let file = "/night/backlog.md"

    static func parse(_ text: String) throws(BacklogError) -> [BacklogEntry] {
        try BacklogParser.parseNumbered(text, file: file)
    }

    /// The error of parsing `text`, which must be malformed.
    static func error(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> BacklogError? {
        do {
            let entries = try parse(text)
            Issue.record("expected a BacklogError, parsed \(entries.map(\.key))", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    // MARK: Numbered lines

    @Test("numbered lines in both forms, `1.` and `1)`, keep their number as the key")
    func numberedForms() throws {
        let entries = try Self.parse("1. Add a --json flag\n2) Retry webhooks\n10.\tTab after the dot\n")
        #expect(entries.map(\.key) == ["1", "2", "10"])
        #expect(entries.map(\.title) == ["Add a --json flag", "Retry webhooks", "Tab after the dot"])
        #expect(entries.map(\.body) == entries.map(\.title))
        #expect(entries.map(\.position) == [0, 1, 2])
        #expect(entries.map(\.line) == [1, 2, 3])
        #expect(entries.allSatisfy { $0.file == Self.file && $0.after.isEmpty })
    }

    @Test("a number with leading zeros is the same key (01 is 1)")
    func leadingZeros() throws {
        #expect(try Self.parse("01. first\n002) second").map(\.key) == ["1", "2"])
    }

    @Test("indented lines continue the item above: the body has them, the title is the first line")
    func continuationLines() throws {
        let entries = try Self.parse(
            """
            1. Add a --json flag
               so scripts can read the output
            \tand keep the table as the default
            2. Next item
            """)
        #expect(entries.count == 2)
        #expect(entries[0].title == "Add a --json flag")
        #expect(entries[0].body == "Add a --json flag\nso scripts can read the output\nand keep the table as the default")
        #expect(entries[1].body == "Next item")
        #expect(entries[1].line == 4)
    }

    @Test("comments, headings, quotes and blank lines are ignored (lines keep their numbers)")
    func ignoredLines() throws {
        let entries = try Self.parse(
            """
            <!--
            A multi-line comment with prose
            and even a numbered line:
            7. not an item
            -->
            <!-- 8. a one-line comment is ignored too -->
            # Backlog

            > a quote explaining the backlog
            ## Section
            1. The only item
            """)
        #expect(entries.map(\.key) == ["1"])
        #expect(entries[0].line == 11)
    }

    @Test("`(after: 1, 2)` declares dependencies and is cut from the title")
    func afterClause() throws {
        let entries = try Self.parse("1. one\n2. two\n3. Ship it (after: 1, 02)\n4. Also (AFTER: 3)")
        #expect(entries[2].title == "Ship it")
        #expect(entries[2].body == "Ship it")
        #expect(entries[2].after == ["1", "2"])
        #expect(entries[3].title == "Also")
        #expect(entries[3].after == ["3"])
        #expect(entries[0].after.isEmpty)
    }

    @Test("parentheses that are not an `after:` clause stay in the title")
    func otherParentheses() throws {
        let entries = try Self.parse("1. Support YAML (and JSON)")
        #expect(entries[0].title == "Support YAML (and JSON)")
        #expect(entries[0].after.isEmpty)
    }

    @Test("an empty backlog (only comments) parses to no items")
    func emptyBacklog() throws {
        #expect(try Self.parse("# Backlog\n\n<!-- nothing yet -->\n").isEmpty)
        #expect(try Self.parse("").isEmpty)
    }

    @Test("a file saved with CRLF line endings parses like one with LF")
    func crlfLineEndings() throws {
        let entries = try Self.parse("# Backlog\r\n\r\n1. First item\r\n   more text\r\n2. Second (after: 1)\r\n")
        #expect(entries.map(\.key) == ["1", "2"])
        #expect(entries.map(\.title) == ["First item", "Second"])
        #expect(entries.first?.body == "First item\nmore text")
        #expect(entries.last?.after == ["1"])
    }

    // MARK: Numbered-line errors

    @Test("a duplicate number is an error naming the file, the second line and the first")
    func duplicateNumber() throws {
        let e = try #require(Self.error("1. one\n2. two\n\n2) two again"))
        #expect(e.file == Self.file)
        #expect(e.line == 4)
        #expect(e.reason.contains("item number 2 is used twice (first on line 2)"))
        #expect(e.description.hasPrefix("backlog error: /night/backlog.md:4: "))
    }

    @Test("a stray prose line is an error naming its line and quoting it")
    func strayProse() throws {
        let e = try #require(Self.error("# Backlog\n1. one\nRemember to ask Sam about this\n2. two"))
        #expect(e.line == 3)
        #expect(e.reason.contains("expected a numbered item"))
        #expect(e.reason.contains("Remember to ask Sam about this"))
        #expect(e.description.contains("/night/backlog.md:3"))
    }

    @Test("an indented line before any item is an error, not a silent drop")
    func continuationWithoutItem() throws {
        let e = try #require(Self.error("   dangling text\n1. one"))
        #expect(e.line == 1)
    }

    @Test("a number without text is an error")
    func numberWithoutText() throws {
        let e = try #require(Self.error("1. one\n2.\n"))
        #expect(e.line == 2)
        #expect(e.reason.contains("item 2 has no text"))
    }

    @Test("`1.5` or `3.Fix` are not item numbers: the line is rejected")
    func notANumberedLine() throws {
        #expect(Self.error("1.5 release notes")?.line == 1)
        #expect(Self.error("1. ok\n3.Fix without space")?.line == 2)
    }

    @Test("waiting for a later item is an error on the waiting item's line")
    func dependencyOnLaterItem() throws {
        let e = try #require(Self.error("1. one (after: 2)\n2. two"))
        #expect(e.line == 1)
        #expect(e.reason.contains("item 1 waits for item 2, which comes later"))
    }

    @Test("waiting for an unknown item is an error on the waiting item's line")
    func dependencyOnUnknownItem() throws {
        let e = try #require(Self.error("1. one\n\n2. two (after: 9)"))
        #expect(e.line == 3)
        #expect(e.reason.contains("item 2 waits for item 9, which the backlog does not have"))
    }

    @Test("an item cannot wait for itself")
    func selfDependency() throws {
        #expect(Self.error("1. one (after: 1)")?.line == 1)
    }

    // MARK: Directory form

    static let dir = "/night/backlog"

    static func parseDir(_ files: [(name: String, text: String)]) throws(BacklogError) -> [BacklogEntry] {
        try BacklogParser.parseDirectory(files, directory: dir)
    }

    @Test("one file per item: key = file name, title = first heading, body = the whole text, sorted by name")
    func directoryForm() throws {
        let entries = try Self.parseDir([
            ("02-webhooks.md", "# Retry webhooks\n\nUp to 3 times.\n## Notes\nafter: 01-json\n"),
            ("01-json.md", "Intro line\n# Add a --json flag\n# A second heading\n"),
        ])
        #expect(entries.map(\.key) == ["01-json", "02-webhooks"])
        #expect(entries.map(\.title) == ["Add a --json flag", "Retry webhooks"])
        #expect(entries.map(\.position) == [0, 1])
        #expect(entries[0].body == "Intro line\n# Add a --json flag\n# A second heading")
        #expect(entries[0].file == "/night/backlog/01-json.md")
        #expect(entries[0].line == 1)
        #expect(entries[1].after == ["01-json"])
        #expect(entries[0].after.isEmpty)
    }

    @Test("a file without a heading is titled by its name; `after:` takes a list and may repeat")
    func directoryDefaults() throws {
        let entries = try Self.parseDir([
            ("a.md", "plain text, no heading"), ("b.md", "# B\nafter: a"),
            ("c.md", "# C\nAfter: a, b\nafter: b"),
        ])
        #expect(entries[0].title == "a")
        #expect(entries[2].after == ["a", "b", "b"])
    }

    @Test("an item file saved with CRLF line endings: clean title and `after:` keys")
    func directoryCRLF() throws {
        let entries = try Self.parseDir([("a.md", "# A\r\n"), ("b.md", "# Item B\r\n\r\nafter: a\r\nmore\r\n")])
        #expect(entries.map(\.title) == ["A", "Item B"])
        #expect(entries[1].after == ["a"])
    }

    @Test("an empty item file is an error naming the file")
    func directoryEmptyFile() throws {
        do {
            _ = try Self.parseDir([("a.md", "# A"), ("b.md", "  \n\n")])
            Issue.record("expected an error")
        } catch {
            #expect(error.file == "/night/backlog/b.md")
            #expect(error.line == 1)
            #expect(error.reason.contains("empty"))
        }
    }

    @Test("`after:` naming nothing is an error on its line")
    func directoryEmptyAfter() throws {
        do {
            _ = try Self.parseDir([("a.md", "# A\n\nafter:   \n")])
            Issue.record("expected an error")
        } catch {
            #expect(error.file == "/night/backlog/a.md")
            #expect(error.line == 3)
        }
    }

    @Test("in a directory, a dependency on a later or unknown file is an error on that file")
    func directoryBadDependency() throws {
        do {
            _ = try Self.parseDir([("a.md", "# A\nafter: b"), ("b.md", "# B")])
            Issue.record("expected an error")
        } catch {
            #expect(error.file == "/night/backlog/a.md")
            #expect(error.reason.contains("comes later"))
        }
        do {
            _ = try Self.parseDir([("a.md", "# A\nafter: zzz")])
            Issue.record("expected an error")
        } catch {
            #expect(error.reason.contains("does not have"))
        }
    }

    // MARK: Slug

    @Test("slug: key plus a lowercase dashed title, cut at 40 characters, branch-safe")
    func slug() {
        #expect(BacklogParser.slug(key: "1", title: "Add a --json flag to `report`!") == "1-add-a-json-flag-to-report")
        #expect(BacklogParser.slug(key: "12", title: "  Über café: ÄÖÜ  ") == "12-ber-caf")
        let long = BacklogParser.slug(key: "3", title: String(repeating: "word ", count: 30))
        #expect(long.hasPrefix("3-word-word"))
        #expect(long.count <= 2 + 40)
        #expect(!long.hasSuffix("-"))
        #expect(BacklogParser.slug(key: "4", title: "!!!") == "4-item")
        #expect(BacklogParser.slug(key: "Feature X/../y", title: "T") == "featurexy-t")
        for s in [long, BacklogParser.slug(key: "a b", title: "c/d e")] {
            #expect(s.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") })
        }
    }
}
