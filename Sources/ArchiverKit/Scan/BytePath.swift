/// Relative paths as raw bytes, the way the kernel sees them.
///
/// Source trees on a NAS hold names that are not valid UTF-8 (old Windows shares copied with a legacy code page)
/// and names that differ only in Unicode normalisation ("é" as one scalar next to "e" + combining accent).
/// Both must survive a backup unchanged, so paths are kept, joined, compared and sorted as bytes; a `String` is
/// made only for showing a path to a person.
public enum BytePath {
    /// The separator between path components.
    public static let separator: UInt8 = 0x2F

    /// Joins a directory path and a name.
    /// - Parameters:
    ///   - dir: a path relative to the source root; `[]` for the root itself.
    ///   - name: one component, without a separator.
    /// - Returns: `dir + "/" + name`, or `name` when `dir` is empty.
    public static func join(_ dir: [UInt8], _ name: [UInt8]) -> [UInt8] {
        if dir.isEmpty { return name }
        var path = dir
        path.reserveCapacity(dir.count + 1 + name.count)
        path.append(separator)
        path.append(contentsOf: name)
        return path
    }

    /// Splits a path at its last separator.
    /// - Parameter path: a relative path.
    /// - Returns: the directory part (`[]` when there is none) and the last component.
    public static func split(_ path: [UInt8]) -> (dir: [UInt8], name: [UInt8]) {
        guard let slash = path.lastIndex(of: separator) else { return ([], path) }
        return (Array(path[..<slash]), Array(path[(slash + 1)...]))
    }

    /// The components of a relative path, empty components (from doubled or outer separators) left out.
    /// - Parameter path: a relative path.
    /// - Returns: its components, in order.
    public static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: separator, omittingEmptySubsequences: true).map { Array($0) }
    }

    /// A path for people to read: UTF-8 where the bytes are valid UTF-8, escapes elsewhere.
    ///
    /// Bytes that are not part of a well-formed UTF-8 sequence become `\xNN` (uppercase hex), and so do control
    /// characters (a newline in a name must not break a log line). A backslash is shown as `\\` so that a name
    /// really spelled with the characters `\x80` never displays the same as a name holding the byte 0x80: two
    /// distinct paths always display distinctly. Nothing is normalised, so NFC and NFD spellings of a name keep
    /// their scalars here too; they render alike, and Swift's `==` on `String` (canonical equivalence) even calls
    /// them equal, so compare paths as bytes, never as display strings.
    /// - Parameter path: the bytes.
    /// - Returns: the display form.
    public static func display(_ path: [UInt8]) -> String {
        var out = String.UnicodeScalarView()
        var index = 0
        while index < path.count {
            let (scalar, length) = decodeScalar(path, at: index)
            if let scalar, scalar >= 0x20, scalar != 0x7F, scalar != 0x5C, let value = Unicode.Scalar(scalar) {
                out.append(value)
            } else if scalar == 0x5C {
                out.append(contentsOf: "\\\\".unicodeScalars)
            } else {
                for byte in path[index..<(index + length)] { out.append(contentsOf: hexEscape(byte).unicodeScalars) }
            }
            index += length
        }
        return String(out)
    }

    private static func hexEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }

    /// Decodes the UTF-8 sequence starting at `index`.
    ///
    /// Follows the well-formedness table of the Unicode standard (no overlong forms, no surrogates, nothing above
    /// U+10FFFF). A byte that does not start a well-formed sequence counts as one undecodable unit, so callers can
    /// step through any byte string one "character" at a time.
    /// - Parameters:
    ///   - bytes: the byte string.
    ///   - index: a position inside it.
    /// - Returns: the scalar value (nil when the sequence is malformed) and how many bytes it spans (at least 1).
    static func decodeScalar<C: RandomAccessCollection<UInt8>>(_ bytes: C, at index: C.Index) -> (UInt32?, Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (UInt32(lead), 1) }
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return (nil, 1)
        }
        guard bytes.distance(from: index, to: bytes.endIndex) >= length else { return (nil, 1) }
        var value = UInt32(lead) & (length == 2 ? 0x1F : length == 3 ? 0x0F : 0x07)
        var position = bytes.index(after: index)
        for offset in 1..<length {
            let byte = bytes[position]
            let range: ClosedRange<UInt8> = offset == 1 ? low...high : 0x80...0xBF
            guard range.contains(byte) else { return (nil, 1) }
            value = value << 6 | UInt32(byte & 0x3F)
            position = bytes.index(after: position)
        }
        return (value, length)
    }
}
