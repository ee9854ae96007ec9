/// A streaming reader of tar archives (POSIX ustar, GNU long names, pax `path`), fed the bytes
/// of the (already decompressed) archive in chunks of any size. It hands each regular file's
/// name and contents to its callbacks as they arrive, so an archive is read in one pass and
/// never held in memory. Used by `nightshift guard` to look inside `run.tar.gz` archives.
struct TarStream {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case badHeader(offset: Int)
        case truncated

        var description: String {
            switch self {
            case .badHeader(let offset): return "not a tar archive (bad header at byte \(offset))"
            case .truncated: return "the archive ends inside a file"
            }
        }
    }

    /// A regular file starts: its path in the archive.
    var onFile: (String) -> Void
    /// Bytes of the current regular file, in order.
    var onData: (UnsafeBufferPointer<UInt8>) -> Void
    /// The current regular file ended.
    var onEnd: () -> Void

    private enum Phase {
        case header
        /// `remaining` bytes of an entry's data, then `padding` bytes to the next block.
        case data(kind: Entry, remaining: Int, padding: Int)
        case finished
    }

    private enum Entry {
        case file
        case skip
        /// The data is the next entry's name (GNU `L`) or pax records (`x`).
        case longName
        case pax
    }

    private var phase = Phase.header
    private var block: [UInt8] = []
    private var meta: [UInt8] = []
    private var nextName: String?
    private var offset = 0
    private var zeroBlocks = 0

    init(
        onFile: @escaping (String) -> Void, onData: @escaping (UnsafeBufferPointer<UInt8>) -> Void,
        onEnd: @escaping () -> Void
    ) {
        self.onFile = onFile
        self.onData = onData
        self.onEnd = onEnd
        block.reserveCapacity(512)
    }

    /// The archive's next bytes.
    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var i = 0
        while i < bytes.count {
            switch phase {
            case .finished:
                return
            case .header:
                let take = min(512 - block.count, bytes.count - i)
                block.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                offset += take
                if block.count == 512 {
                    try header()
                    block.removeAll(keepingCapacity: true)
                }
            case .data(let kind, let remaining, let padding):
                if remaining > 0 {
                    let take = min(remaining, bytes.count - i)
                    let chunk = UnsafeBufferPointer(rebasing: bytes[i..<(i + take)])
                    switch kind {
                    case .file: onData(chunk)
                    case .longName, .pax: if meta.count < 1 << 20 { meta.append(contentsOf: chunk) }
                    case .skip: break
                    }
                    i += take
                    offset += take
                    phase = .data(kind: kind, remaining: remaining - take, padding: padding)
                    if remaining - take == 0 && padding == 0 { endEntry(kind) }
                } else {
                    let take = min(padding, bytes.count - i)
                    i += take
                    offset += take
                    phase = .data(kind: kind, remaining: 0, padding: padding - take)
                    if padding - take == 0 { endEntry(kind) }
                }
            }
        }
    }

    /// The archive ended; a file cut short is an error.
    func finish() throws {
        switch phase {
        case .header, .finished:
            if !block.isEmpty && block.contains(where: { $0 != 0 }) { throw Failure.truncated }
        case .data:
            throw Failure.truncated
        }
    }

    private mutating func header() throws {
        if block.allSatisfy({ $0 == 0 }) {
            zeroBlocks += 1
            if zeroBlocks == 2 { phase = .finished }
            return
        }
        zeroBlocks = 0
        guard checksumMatches() else { throw Failure.badHeader(offset: offset - 512) }
        guard let size = Self.number(block[124..<136]) else { throw Failure.badHeader(offset: offset - 512) }
        let type = block[156]
        var name = nextName ?? path()
        nextName = nil
        let kind: Entry
        switch type {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"): kind = .file
        case UInt8(ascii: "L"): kind = .longName
        case UInt8(ascii: "x"): kind = .pax
        default: kind = .skip
        }
        if case .file = kind {
            if name.hasPrefix("./") { name.removeFirst(2) }
            onFile(name)
        }
        meta.removeAll(keepingCapacity: true)
        let padding = (512 - size % 512) % 512
        phase = .data(kind: kind, remaining: size, padding: padding)
        if size == 0 { endEntry(kind) }
    }

    private mutating func endEntry(_ kind: Entry) {
        phase = .header
        switch kind {
        case .file:
            onEnd()
        case .longName:
            nextName = String(decoding: meta.prefix { $0 != 0 }, as: UTF8.self)
        case .pax:
            // Records are "<length> <key>=<value>\n"; only the path matters here.
            for record in meta.split(separator: 0x0A) {
                guard let space = record.firstIndex(of: 0x20) else { continue }
                let kv = record[(space + 1)...]
                if kv.starts(with: Array("path=".utf8)) { nextName = String(decoding: kv.dropFirst(5), as: UTF8.self) }
            }
        case .skip:
            break
        }
    }

    /// ustar's prefix and name (or the name alone).
    private func path() -> String {
        func field(_ range: Range<Int>) -> String { String(decoding: block[range].prefix { $0 != 0 }, as: UTF8.self) }
        let name = field(0..<100)
        let isUstar = block[257..<262].elementsEqual(Array("ustar".utf8))
        let prefix = isUstar ? field(345..<500) : ""
        return prefix.isEmpty ? name : prefix + "/" + name
    }

    private func checksumMatches() -> Bool {
        guard let stored = Self.number(block[148..<156]) else { return false }
        var sum = 0
        for (k, b) in block.enumerated() { sum += (148..<156).contains(k) ? 0x20 : Int(b) }
        return sum == stored
    }

    /// An octal field (NUL or space terminated), or GNU's base-256 form for large sizes.
    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            var n = Int(first & 0x7F)
            for b in field.dropFirst() {
                guard n < Int.max >> 8 else { return nil }
                n = n << 8 | Int(b)
            }
            return n
        }
        var n = 0
        var digits = 0
        for b in field {
            if b == 0 || b == 0x20 {
                if digits > 0 { break } else { continue }
            }
            guard b >= 0x30 && b <= 0x37, n < Int.max >> 3 else { return nil }
            n = n << 3 | Int(b - 0x30)
            digits += 1
        }
        return n
    }
}
