import Age
import Foundation
import Testing

/// A recipient that writes a fixed stanza, for building headers the real recipients would never write.
struct FixedStanzaRecipient: AgeRecipient {
    var stanza: Stanza
    func wrap(fileKey: FileKey, ephemeralSecret: [UInt8]?) throws -> Stanza { stanza }
}

/// Deterministic pseudo-random bytes (xorshift64*), fast enough for megabytes in debug builds.
func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed | 1
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { buffer in
        var offset = 0
        while offset < count {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            let value = (state &* 0x2545_F491_4F6C_DD1D).littleEndian
            let n = min(8, count - offset)
            withUnsafeBytes(of: value) { word in
                buffer.baseAddress!.advanced(by: offset).copyMemory(from: word.baseAddress!, byteCount: n)
            }
            offset += n
        }
    }
    return bytes
}

extension Array where Element == UInt8 {
    /// Appends raw bytes in one copy; appending a raw buffer as a sequence goes byte by byte, which is slow
    /// in the unoptimized test build.
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }
}

/// The error kind a decryption throws, or nil when it succeeds.
func decryptionErrorKind(_ file: [UInt8], _ identities: [any AgeIdentity]) -> AgeError.Kind? {
    do {
        _ = try Age.decrypt(file, with: identities)
        return nil
    } catch {
        return (error as? AgeError)?.kind
    }
}

@Suite struct StreamTests {
    static let sizes = [0, 1, 100, 65535, 65536, 65537, 2 * 65536, 3 * 65536 + 5]

    @Test(arguments: sizes)
    func roundTrip(size: Int) throws {
        let identity = X25519Identity.generate()
        let plaintext = pseudoRandomBytes(size, seed: UInt64(size) + 1)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        let chunks = max(1, (size + 65535) / 65536)
        #expect(file.count == AgeEncryptor.headerSizeForTests(file) + 16 + size + 16 * chunks)
        #expect(try Age.decrypt(file, with: [identity]) == plaintext)
    }

    @Test func feedingOneByteAtATimeGivesTheSamePlaintext() throws {
        let identity = X25519Identity.generate()
        let plaintext = pseudoRandomBytes(2 * 65536 + 10, seed: 7)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        var decryptor = AgeDecryptor(identities: [identity])
        #expect(decryptor.stanzas == nil)
        var output: [UInt8] = []
        var releases = 0
        try file.withUnsafeBytes { all in
            for index in 0..<all.count {
                try decryptor.feed(UnsafeRawBufferPointer(rebasing: all[index..<(index + 1)])) {
                    output.appendBytes($0)
                    releases += 1
                }
            }
        }
        #expect(decryptor.stanzas?.count == 1)
        #expect(decryptor.stanzas?.first?.type == "X25519")
        // Both full chunks are released before finish (each is followed by at least one byte).
        #expect(releases == 2)
        try decryptor.finish { output.appendBytes($0) }
        #expect(output == plaintext)
    }

    @Test func fullChunkIsHeldUntilAByteFollows() throws {
        let identity = X25519Identity.generate()
        let plaintext = pseudoRandomBytes(65536, seed: 3)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        var decryptor = AgeDecryptor(identities: [identity])
        var output: [UInt8] = []
        try file.withUnsafeBytes { try decryptor.feed($0) { output.appendBytes($0) } }
        #expect(output.isEmpty, "a full final chunk cannot be released before the end of input is known")
        try decryptor.finish { output.appendBytes($0) }
        #expect(output == plaintext)
    }

    @Test func deterministicOutput() throws {
        let identity = try X25519Identity(secretKey: [UInt8](repeating: 9, count: 32))
        let other = try X25519Identity(secretKey: [UInt8](repeating: 10, count: 32))
        let fileKey = try FileKey(bytes: [UInt8](repeating: 1, count: 16))
        let nonce = [UInt8](repeating: 2, count: 16)
        let secrets = [[UInt8](repeating: 3, count: 32), [UInt8](repeating: 4, count: 32)]
        let plaintext = pseudoRandomBytes(70000, seed: 11)
        func make(
            fileKey: FileKey = fileKey, nonce: [UInt8] = nonce, secrets: [[UInt8]] = secrets
        ) throws -> [UInt8] {
            let encryptor = try AgeEncryptor(
                recipients: [identity.recipient, other.recipient], fileKey: fileKey, payloadNonce: nonce,
                ephemeralSecrets: secrets
            )
            return try Age.encrypt(plaintext, with: encryptor)
        }
        let first = try make()
        #expect(try make() == first)
        #expect(try make(fileKey: FileKey(bytes: [UInt8](repeating: 5, count: 16))) != first)
        #expect(try make(nonce: [UInt8](repeating: 6, count: 16)) != first)
        #expect(try make(secrets: [secrets[1], secrets[0]]) != first)
        #expect(try Age.decrypt(first, with: [identity]) == plaintext)
        #expect(try Age.decrypt(first, with: [other]) == plaintext)

        let random1 = try Age.encrypt(plaintext, to: [identity.recipient])
        let random2 = try Age.encrypt(plaintext, to: [identity.recipient])
        #expect(random1 != random2)
    }

    @Test func multipleRecipients() throws {
        let identities = (0..<3).map { _ in X25519Identity.generate() }
        let plaintext = Array("to several people".utf8)
        let file = try Age.encrypt(plaintext, to: identities.map(\.recipient))
        for identity in identities {
            #expect(try Age.decrypt(file, with: [identity]) == plaintext)
        }
        // A non-matching identity first does not stop a later one from matching.
        #expect(try Age.decrypt(file, with: [X25519Identity.generate(), identities[2]]) == plaintext)
        #expect(decryptionErrorKind(file, [X25519Identity.generate()]) == .noMatch)
        #expect(decryptionErrorKind(file, []) == .noMatch)
    }

    @Test func scryptRoundTrip() throws {
        let plaintext = pseudoRandomBytes(1000, seed: 5)
        let file = try Age.encrypt(plaintext, to: [ScryptRecipient(passphrase: "correct horse", workFactor: 4)])
        #expect(String(decoding: file.prefix(40), as: UTF8.self).contains("-> scrypt "))
        #expect(try Age.decrypt(file, with: [ScryptIdentity(passphrase: "correct horse")]) == plaintext)
        #expect(decryptionErrorKind(file, [ScryptIdentity(passphrase: "wrong")]) == .noMatch)
        // An X25519 identity ignores the scrypt stanza.
        #expect(decryptionErrorKind(file, [X25519Identity.generate()]) == .noMatch)
    }

    @Test func scryptMustBeAlone() throws {
        #expect {
            try AgeEncryptor(recipients: [
                ScryptRecipient(passphrase: "p", workFactor: 2), X25519Identity.generate().recipient,
            ])
        } throws: { error in
            (error as? AgeError)?.kind == .invalidKey
        }
    }

    @Test func scryptWorkFactorAboveTheCapIsRefusedQuickly() throws {
        let stanza = Stanza(
            type: "scrypt", arguments: ["AAAAAAAAAAAAAAAAAAAAAA", "25"], body: [UInt8](repeating: 0, count: 32))
        let file = try Age.encrypt([1, 2, 3], to: [FixedStanzaRecipient(stanza: stanza)])
        let start = ContinuousClock.now
        do {
            _ = try Age.decrypt(file, with: [ScryptIdentity(passphrase: "p")])
            Issue.record("a work factor of 25 was accepted")
        } catch let error as AgeError {
            #expect(error.kind == .header)
            #expect(error.message.contains("25"))
            #expect(error.message.contains("cap of 19"))
            #expect(error.message.contains("32 GiB"))
            #expect(error.message.contains("512 MiB"))
        }
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(Age.maxScryptWorkFactor == 19)
        // A lower cap chosen by the caller is honoured too.
        let low = Stanza(
            type: "scrypt", arguments: ["AAAAAAAAAAAAAAAAAAAAAA", "12"], body: [UInt8](repeating: 0, count: 32))
        let lowFile = try Age.encrypt([1], to: [FixedStanzaRecipient(stanza: low)])
        #expect(decryptionErrorKind(lowFile, [ScryptIdentity(passphrase: "p", maxWorkFactor: 10)]) == .header)
    }

    @Test(arguments: ["0", "01", "+5", "-5", "0x10", "5a", "", "99999999999999999999"])
    func scryptWorkFactorMustBeCanonicalDecimal(_ factor: String) throws {
        let arguments = factor.isEmpty ? ["AAAAAAAAAAAAAAAAAAAAAA"] : ["AAAAAAAAAAAAAAAAAAAAAA", factor]
        let stanza = Stanza(type: "scrypt", arguments: arguments, body: [UInt8](repeating: 0, count: 32))
        let file = try Age.encrypt([1], to: [FixedStanzaRecipient(stanza: stanza)])
        #expect(decryptionErrorKind(file, [ScryptIdentity(passphrase: "p")]) == .header)
    }

    @Test func tamperedFilesAreRefused() throws {
        let identity = X25519Identity.generate()
        let plaintext = pseudoRandomBytes(2 * 65536 + 100, seed: 21)
        let file = try Age.encrypt(plaintext, to: [identity.recipient])
        let headerEnd = AgeEncryptor.headerSizeForTests(file)
        let payloadStart = headerEnd + 16
        let chunk = 65536 + 16

        // Truncated.
        #expect(decryptionErrorKind([], [identity]) == .header)
        #expect(decryptionErrorKind(Array(file[..<20]), [identity]) == .header)
        #expect(decryptionErrorKind(Array(file[..<headerEnd]), [identity]) == .header)
        #expect(decryptionErrorKind(Array(file[..<(headerEnd + 8)]), [identity]) == .header)
        #expect(decryptionErrorKind(Array(file[..<payloadStart]), [identity]) == .truncated)
        #expect(decryptionErrorKind(Array(file[..<(payloadStart + chunk)]), [identity]) == .truncated)
        #expect(decryptionErrorKind(Array(file[..<(payloadStart + 2 * chunk)]), [identity]) == .truncated)
        #expect(decryptionErrorKind(Array(file[..<(payloadStart + chunk + 5)]), [identity]) == .truncated)
        #expect(decryptionErrorKind(Array(file[..<(payloadStart + chunk + 500)]), [identity]) == .payload)
        #expect(decryptionErrorKind(Array(file.dropLast()), [identity]) == .payload)

        // Extended.
        #expect(decryptionErrorKind(file + [0], [identity]) == .payload)
        #expect(decryptionErrorKind(file + file, [identity]) == .payload)

        // Bit flips: in the header text, the MAC, the nonce, each chunk and each tag.
        let stanzaLine = 22 + 15  // inside the X25519 share
        #expect(decryptionErrorKind(flip(file, at: stanzaLine), [identity]) != nil)
        #expect(decryptionErrorKind(flip(file, at: headerEnd - 3), [identity]) != nil)
        #expect(decryptionErrorKind(flip(file, at: headerEnd + 3), [identity]) == .payload)
        for offset in [payloadStart, payloadStart + chunk - 1, payloadStart + chunk + 7, file.count - 1] {
            #expect(decryptionErrorKind(flip(file, at: offset), [identity]) == .payload)
        }
        #expect(decryptionErrorKind(file, [identity]) == nil)
    }

    @Test func alteredHeaderIsAnHMACMismatch() throws {
        let identity = X25519Identity.generate()
        let grease = FixedStanzaRecipient(stanza: Stanza(type: "grease", arguments: ["abc"], body: [1, 2, 3]))
        let file = try Age.encrypt([1, 2, 3], to: [identity.recipient, grease])
        let text = String(decoding: file, as: UTF8.self)
        let range = try #require(text.range(of: "-> grease abc"))
        let offset = text.utf8.distance(from: text.startIndex, to: range.upperBound) - 1
        var altered = file
        altered[offset] = UInt8(ascii: "d")
        #expect(decryptionErrorKind(altered, [identity]) == .hmacMismatch)
    }

    @Test func encryptorRefusesMisuse() throws {
        var encryptor = try AgeEncryptor(recipients: [X25519Identity.generate().recipient])
        var output: [UInt8] = []
        let short = [UInt8](repeating: 0, count: 100)
        let full = [UInt8](repeating: 0, count: Age.chunkSize)
        #expect(throws: AgeError.self) {
            try short.withUnsafeBytes { try encryptor.seal($0, isFinal: false, appendingTo: &output) }
        }
        #expect(throws: AgeError.self) {
            try (full + [0]).withUnsafeBytes { try encryptor.seal($0, isFinal: true, appendingTo: &output) }
        }
        try full.withUnsafeBytes { try encryptor.seal($0, isFinal: false, appendingTo: &output) }
        #expect(output.count == Age.chunkSize + 16)
        #expect(throws: AgeError.self) {
            try [UInt8]().withUnsafeBytes { try encryptor.seal($0, isFinal: true, appendingTo: &output) }
        }
        try short.withUnsafeBytes { try encryptor.seal($0, isFinal: true, appendingTo: &output) }
        #expect(encryptor.isFinished)
        #expect(throws: AgeError.self) {
            try short.withUnsafeBytes { try encryptor.seal($0, isFinal: true, appendingTo: &output) }
        }
        #expect(throws: AgeError.self) { try AgeEncryptor(recipients: []) }
        #expect(throws: AgeError.self) {
            try AgeEncryptor(recipients: [X25519Identity.generate().recipient], payloadNonce: [1, 2, 3])
        }
        #expect(throws: AgeError.self) {
            try AgeEncryptor(recipients: [X25519Identity.generate().recipient], ephemeralSecrets: [[1]])
        }
        #expect(throws: AgeError.self) {
            try AgeEncryptor(recipients: [X25519Identity.generate().recipient], ephemeralSecrets: [])
        }
        #expect(throws: AgeError.self) { try FileKey(bytes: [1, 2, 3]) }
    }

    @Test func emptyPlaintextIsOneEmptyFinalChunk() throws {
        let identity = X25519Identity.generate()
        var encryptor = try AgeEncryptor(recipients: [identity.recipient])
        var file = encryptor.header
        try [UInt8]().withUnsafeBytes { try encryptor.seal($0, isFinal: true, appendingTo: &file) }
        #expect(file.count == encryptor.header.count + 16)
        #expect(try Age.decrypt(file, with: [identity]) == [])
    }

    @Test func garbageIsRefusedBeforeItIsBuffered() throws {
        var decryptor = AgeDecryptor(identities: [X25519Identity.generate()])
        let garbage = Array("PK\u{3}\u{4} this is a zip file".utf8)
        #expect {
            try garbage.withUnsafeBytes { try decryptor.feed($0) { _ in } }
        } throws: { error in
            (error as? AgeError)?.kind == .header
        }
        // The failure is sticky.
        #expect(throws: AgeError.self) { try decryptor.finish { _ in } }
    }

    @Test func oversizedHeaderIsRefused() throws {
        let big = Stanza(type: "grease", arguments: [], body: [UInt8](repeating: 0, count: 60000))
        let file = try Age.encrypt([1], to: [X25519Identity.generate().recipient, FixedStanzaRecipient(stanza: big)])
        #expect {
            try Age.decrypt(file, with: [X25519Identity.generate()])
        } throws: { error in
            let error = error as? AgeError
            return error?.kind == .header && error?.message.contains("65536") == true
        }
    }

    @Test func identityFileParsing() throws {
        let first = X25519Identity.generate()
        let second = X25519Identity.generate()
        let contents = """
            # created: 2026-01-01T00:00:00Z
            # public key: \(first.recipient)
            \(first.encoded)

            # another\r
            \(second.encoded)\r

            """
        let parsed = try Age.parseIdentityFile(contents)
        #expect(parsed.map(\.encoded) == [first.encoded, second.encoded])
        #expect(parsed.map(\.recipient) == [first.recipient, second.recipient])

        let bad = "# comment\n\(first.encoded)\nnot a key\n"
        #expect {
            try Age.parseIdentityFile(bad)
        } throws: { error in
            let error = error as? AgeError
            return error?.kind == .invalidKey && error?.message.contains("line 3") == true
        }
        #expect(throws: AgeError.self) { try Age.parseIdentityFile("# only comments\n\n") }
        #expect(throws: AgeError.self) { try Age.parseIdentityFile(" \(first.encoded)\n") }
    }

    @Test func x25519RecipientStringRoundTrips() throws {
        let identity = X25519Identity.generate()
        let text = identity.recipient.description
        #expect(text.hasPrefix("age1"))
        #expect(text == text.lowercased())
        #expect(try X25519Recipient(text) == identity.recipient)
        #expect(identity.encoded.hasPrefix("AGE-SECRET-KEY-1"))
        #expect(try X25519Identity(identity.encoded).recipient == identity.recipient)
    }

    @Test func lowOrderRecipientIsRefused() throws {
        // The all-zero public key is a low-order point: every shared secret with it is zero.
        let zero = try X25519Recipient(publicKey: [UInt8](repeating: 0, count: 32))
        #expect {
            try zero.wrap(fileKey: FileKey.random(), ephemeralSecret: nil)
        } throws: { error in
            (error as? AgeError)?.kind == .invalidKey
        }
    }

    private func flip(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
        var copy = bytes
        copy[offset] ^= 0x01
        return copy
    }
}

extension AgeEncryptor {
    /// The header length of a file, up to and including the MAC line (not the payload nonce).
    static func headerSizeForTests(_ file: [UInt8]) -> Int {
        var index = 0
        var lineStart = 0
        while index < file.count {
            if file[index] == UInt8(ascii: "\n") {
                if file[lineStart..<index].starts(with: Array("--- ".utf8)) { return index + 1 }
                lineStart = index + 1
            }
            index += 1
        }
        return file.count
    }
}
