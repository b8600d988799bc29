import Age
import Testing

@Suite struct HeaderTests {
    private func lines(_ bytes: [UInt8]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test(arguments: [0, 1, 2, 47, 48, 49, 95, 96, 97, 200])
    func stanzaRoundTripAndBodyWrapping(bodyLength: Int) throws {
        let body = (0..<bodyLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
        let stanza = Stanza(type: "test-type", arguments: ["a", "!~"], body: body)
        let header = AgeHeader(stanzas: [stanza], mac: [UInt8](repeating: 0xAB, count: 32))
        let bytes = try header.serialized()
        #expect(try AgeHeader.parse(bytes) == header)

        let text = lines(bytes)
        #expect(text[0] == "age-encryption.org/v1")
        #expect(text[1] == "-> test-type a !~")
        // Body lines: full 64-column lines, then one shorter line, which is empty when the body fills its
        // last line exactly (a length that is a multiple of 48 bytes, including zero).
        let bodyLines = Array(text[2..<(text.count - 2)])
        let fullLines = bodyLength / 48
        #expect(bodyLines.count == fullLines + 1)
        for line in bodyLines.dropLast() {
            #expect(line.count == 64)
        }
        #expect(bodyLines.last!.count < 64)
        #expect(bodyLines.last!.isEmpty == (bodyLength % 48 == 0))
        #expect(text[text.count - 2].hasPrefix("--- "))
        #expect(text.last == "")
    }

    @Test func multipleStanzasRoundTrip() throws {
        let header = AgeHeader(
            stanzas: [
                Stanza(type: "X25519", arguments: ["abc"], body: [UInt8](repeating: 1, count: 32)),
                Stanza(type: "grease", arguments: [], body: []),
                Stanza(type: "x", arguments: ["1", "2", "3"], body: [UInt8](repeating: 2, count: 96)),
            ],
            mac: [UInt8](repeating: 0, count: 32)
        )
        #expect(try AgeHeader.parse(try header.serialized()) == header)
    }

    @Test(arguments: [
        Stanza(type: "", arguments: [], body: []),
        Stanza(type: "a b", arguments: [], body: []),
        Stanza(type: "ok", arguments: [""], body: []),
        Stanza(type: "ok", arguments: ["caf\u{E9}"], body: []),
        Stanza(type: "ok", arguments: ["tab\t"], body: []),
    ])
    func refusesToSerializeInvalidArguments(_ stanza: Stanza) {
        #expect(throws: AgeError.self) {
            try AgeHeader(stanzas: [stanza], mac: [UInt8](repeating: 0, count: 32)).serialized()
        }
    }

    /// Headers that must be refused, each a variation of a valid one.
    @Test(arguments: [
        "age-encryption.org/v1\n-> X 1\n\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nextra",  // trailing bytes
        "age-encryption.org/v1\n-> X\n" + String(repeating: "A", count: 65) + "\n\n--- "
            + String(repeating: "A", count: 43) + "\n",  // body line over 64 columns
        "age-encryption.org/v1\n->  X\n\n--- " + String(repeating: "A", count: 43) + "\n",  // empty argument
        "age-encryption.org/v1\n-> X \n\n--- " + String(repeating: "A", count: 43) + "\n",  // trailing space
        "age-encryption.org/v1\n-> X\n--- " + String(repeating: "A", count: 43) + "\n",  // no final body line
        "age-encryption.org/v1\n-> X\n\n--- " + String(repeating: "A", count: 42) + "\n",  // short MAC
        "age-encryption.org/v1\n-> X\n\n---" + String(repeating: "A", count: 43) + "\n",  // no space
        "age-encryption.org/v1\n-> X\nAA==\n--- " + String(repeating: "A", count: 43) + "\n",  // padded body
        "age-encryption.org/v1\n-> X\n\n--- " + String(repeating: "A", count: 43),  // no final newline
        "age-encryption.org/v1\n",  // no MAC line
        "",  // empty
    ])
    func refusesMalformedHeaders(_ text: String) {
        #expect {
            try AgeHeader.parse(Array(text.utf8))
        } throws: { error in
            (error as? AgeError)?.kind == .header
        }
    }

    @Test func headerWithoutStanzasParses() throws {
        let text = "age-encryption.org/v1\n--- " + String(repeating: "A", count: 43) + "\n"
        let header = try AgeHeader.parse(Array(text.utf8))
        #expect(header.stanzas.isEmpty)
        #expect(header.mac == [UInt8](repeating: 0, count: 32))
    }

    @Test func otherVersionsAreUnsupportedNotMalformed() {
        let text = "age-encryption.org/v2\n--- " + String(repeating: "A", count: 43) + "\n"
        #expect {
            try AgeHeader.parse(Array(text.utf8))
        } throws: { error in
            (error as? AgeError)?.kind == .unsupportedVersion
        }
        let crlf = "age-encryption.org/v1\r\n--- " + String(repeating: "A", count: 43) + "\n"
        #expect {
            try AgeHeader.parse(Array(crlf.utf8))
        } throws: { error in
            (error as? AgeError)?.kind == .header
        }
    }
}
