/// One recipient stanza of an age header: `-> TYPE ARG…` followed by a base64 body.
///
/// The initializer does not validate; ``AgeHeader`` refuses to serialize a stanza whose type or arguments
/// are not non-empty strings of printable ASCII (bytes 33–126).
public struct Stanza: Sendable, Equatable {
    /// The stanza type, such as `X25519` or `scrypt`; unknown types are ignored by identities.
    public var type: String
    /// The arguments after the type.
    public var arguments: [String]
    /// The decoded body.
    public var body: [UInt8]

    /// Creates a stanza.
    ///
    /// - Parameters:
    ///   - type: The stanza type.
    ///   - arguments: The arguments after the type.
    ///   - body: The decoded body.
    public init(type: String, arguments: [String], body: [UInt8]) {
        self.type = type
        self.arguments = arguments
        self.body = body
    }
}

/// The header of an age file: the stanzas and the MAC that authenticates them.
///
/// Parsing is strict in the ways the reference implementation is strict, because the MAC is computed over
/// the header bytes as written: any latitude in the syntax would be latitude to alter a header undetected.
public struct AgeHeader: Sendable, Equatable {
    /// The recipient stanzas, in order.
    public var stanzas: [Stanza]
    /// The 32-byte header MAC.
    public var mac: [UInt8]

    static let intro: [UInt8] = Array("age-encryption.org/v1\n".utf8)
    static let versionPrefix: [UInt8] = Array("age-encryption.org/".utf8)
    /// Body lines hold 48 bytes, 64 base64 characters; only a body's last line may be shorter.
    static let bytesPerLine = 48
    static let columnsPerLine = 64
    static let macByteCount = 32

    /// Creates a header from stanzas and a MAC.
    ///
    /// - Parameters:
    ///   - stanzas: The recipient stanzas.
    ///   - mac: The 32-byte header MAC.
    public init(stanzas: [Stanza], mac: [UInt8]) {
        self.stanzas = stanzas
        self.mac = mac
    }

    /// The header text that the MAC covers: from the version line through the `---` of the MAC line.
    ///
    /// - Parameter stanzas: The stanzas to serialize.
    /// - Throws: ``AgeError`` of kind `.header` when a type or an argument is empty or not printable ASCII.
    public static func bytesCoveredByMAC(stanzas: [Stanza]) throws -> [UInt8] {
        var out = intro
        for stanza in stanzas {
            out.append(contentsOf: Array("->".utf8))
            for argument in [stanza.type] + stanza.arguments {
                let bytes = Array(argument.utf8)
                guard isValidArgument(bytes[...]) else {
                    throw AgeError(
                        .header, "stanza argument \(String(reflecting: argument)) is empty or not printable ASCII"
                    )
                }
                out.append(UInt8(ascii: " "))
                out.append(contentsOf: bytes)
            }
            out.append(UInt8(ascii: "\n"))
            let encoded = Base64.encodeToBytes(stanza.body)
            // A body ends with its first line shorter than 64 columns, so a body filling its last line
            // exactly is followed by an empty line.
            var start = 0
            while true {
                let end = min(start + columnsPerLine, encoded.count)
                out.append(contentsOf: encoded[start..<end])
                out.append(UInt8(ascii: "\n"))
                if end - start < columnsPerLine { break }
                start = end
            }
        }
        out.append(contentsOf: Array("---".utf8))
        return out
    }

    /// Serializes the header, ending with the newline of the MAC line.
    ///
    /// - Throws: ``AgeError`` of kind `.header` when a stanza cannot be written or the MAC is not 32 bytes.
    public func serialized() throws -> [UInt8] {
        guard mac.count == Self.macByteCount else {
            throw AgeError(.header, "the header MAC is \(Self.macByteCount) bytes, not \(mac.count)")
        }
        var out = try Self.bytesCoveredByMAC(stanzas: stanzas)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: Base64.encodeToBytes(mac))
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Parses a complete header: from the version line through the newline that ends the MAC line.
    ///
    /// - Parameter bytes: Exactly the header; trailing bytes (the payload) are refused.
    /// - Returns: The header.
    /// - Throws: ``AgeError`` of kind `.unsupportedVersion` for a version other than v1, `.header` otherwise.
    public static func parse(_ bytes: [UInt8]) throws -> AgeHeader {
        let (header, length) = try parsePrefix(bytes[...])
        guard length == bytes.count else {
            throw AgeError(.header, "\(bytes.count - length) bytes follow the header's MAC line")
        }
        return header
    }

    /// Parses the header at the start of `bytes`, returning it and the number of bytes it spans.
    static func parsePrefix(_ bytes: ArraySlice<UInt8>) throws -> (AgeHeader, Int) {
        var lines = LineReader(bytes: bytes)
        guard let first = lines.next() else {
            throw AgeError(.header, bytes.isEmpty ? "the file is empty" : "the header ends before its first line")
        }
        try checkVersionLine(first)

        var stanzas: [Stanza] = []
        // The stanza whose body is being read, if any: it stays open until a line shorter than 64 columns.
        var open: Stanza?
        while let line = lines.next() {
            let lineNumber = lines.lineNumber
            if line.starts(with: "---".utf8) {
                if open != nil {
                    throw AgeError(.header, "line \(lineNumber): stanza body ends without a short final line")
                }
                let mac = try parseMACLine(line, lineNumber: lineNumber)
                return (AgeHeader(stanzas: stanzas, mac: mac), lines.position - bytes.startIndex)
            } else if line.starts(with: "->".utf8) {
                if open != nil {
                    throw AgeError(.header, "line \(lineNumber): stanza body ends without a short final line")
                }
                open = try parseStanzaLine(line, lineNumber: lineNumber)
            } else if open != nil {
                guard line.count <= columnsPerLine, let decoded = Base64.decode(line) else {
                    throw AgeError(
                        .header,
                        "line \(lineNumber): stanza body line is not canonical base64 of at most 64 columns"
                    )
                }
                // Appended in place through the optional, so a long body is not copied once per line.
                open?.body.append(contentsOf: decoded)
                if decoded.count < bytesPerLine, let stanza = open {
                    stanzas.append(stanza)
                    open = nil
                }
            } else {
                throw AgeError(
                    .header, "line \(lineNumber): expected a stanza (\"-> …\") or the MAC line (\"--- …\")"
                )
            }
        }
        throw AgeError(.header, "the header ends before its MAC line")
    }

    /// Checks the first line, telling a different version of age apart from something that is not age at all.
    static func checkVersionLine(_ line: ArraySlice<UInt8>) throws {
        if line.elementsEqual(intro.dropLast()) { return }
        if line.starts(with: versionPrefix) {
            let version = line.dropFirst(versionPrefix.count)
            if isValidArgument(version) {
                throw AgeError(
                    .unsupportedVersion,
                    "unsupported age format version \"\(String(decoding: version, as: UTF8.self))\" (only v1 is known)"
                )
            }
        }
        throw AgeError(.header, "not an age file: the first line is not \"age-encryption.org/v1\"")
    }

    private static func parseStanzaLine(_ line: ArraySlice<UInt8>, lineNumber: Int) throws -> Stanza {
        // Split on every space, so doubled, leading or trailing spaces yield empty arguments, which are refused.
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].elementsEqual("->".utf8) else {
            throw AgeError(.header, "line \(lineNumber): a stanza line is \"-> TYPE [ARGUMENT…]\"")
        }
        for field in fields.dropFirst() where !isValidArgument(field) {
            throw AgeError(
                .header, "line \(lineNumber): stanza arguments must be non-empty printable ASCII without spaces"
            )
        }
        let strings = fields.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        return Stanza(type: strings[0], arguments: Array(strings.dropFirst()), body: [])
    }

    private static func parseMACLine(_ line: ArraySlice<UInt8>, lineNumber: Int) throws -> [UInt8] {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 2, fields[0].elementsEqual("---".utf8) else {
            throw AgeError(.header, "line \(lineNumber): the MAC line is \"--- \" followed by the base64 MAC")
        }
        guard let mac = Base64.decode(fields[1]), mac.count == macByteCount else {
            throw AgeError(.header, "line \(lineNumber): the header MAC is not canonical base64 of 32 bytes")
        }
        return mac
    }

    /// Whether a stanza argument is acceptable: non-empty, and every byte printable ASCII (33–126).
    static func isValidArgument(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy { $0 >= 33 && $0 <= 126 }
    }
}

/// Splits header bytes into newline-terminated lines; a final line without its newline is not returned.
struct LineReader {
    let bytes: ArraySlice<UInt8>
    /// Where the next line starts.
    private(set) var position: Int
    /// The 1-based number of the line last returned.
    private(set) var lineNumber = 0

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    /// The next line without its newline, or nil when no complete line is left.
    mutating func next() -> ArraySlice<UInt8>? {
        guard let newline = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let line = bytes[position..<newline]
        position = newline + 1
        lineNumber += 1
        return line
    }
}
