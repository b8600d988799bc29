/// Constants and conveniences of the age v1 format (https://age-encryption.org/v1).
public enum Age {
    /// Cap on the scrypt work factor (log2 N) accepted when decrypting: scrypt needs 128·r·N bytes (r = 8),
    /// so 19 → 512 MiB, which fits beside the tool in a 1 GB container. A higher factor is refused before any work.
    public static let maxScryptWorkFactor = 19

    /// Plaintext bytes per payload chunk; only the final chunk may be shorter.
    public static let chunkSize = 65536

    /// Parses an identity file in age-keygen's format.
    ///
    /// Lines starting with `#` and empty lines are skipped; every other line must be one
    /// `AGE-SECRET-KEY-1…` identity. A trailing CR is removed from each line, as age does.
    ///
    /// - Parameter contents: The file's text.
    /// - Returns: The identities, in file order.
    /// - Throws: ``AgeError`` of kind `.invalidKey` naming the line number of a line that is not an identity,
    ///   or when the file holds no identity at all.
    public static func parseIdentityFile(_ contents: String) throws -> [X25519Identity] {
        var identities: [X25519Identity] = []
        // Split the UTF-8 bytes, not Characters: "\r\n" is a single Character and would hide the line break.
        let lines = Array(contents.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (index, rawLine) in lines.enumerated() {
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            do {
                identities.append(try X25519Identity(String(decoding: line, as: UTF8.self)))
            } catch let error as AgeError {
                // The line itself is a secret, so it is not quoted.
                throw AgeError(.invalidKey, "identity file line \(index + 1): \(error.message)")
            }
        }
        guard !identities.isEmpty else {
            throw AgeError(.invalidKey, "the identity file holds no AGE-SECRET-KEY-1… identity")
        }
        return identities
    }

    /// Encrypts a whole plaintext in memory.
    ///
    /// - Parameters:
    ///   - plaintext: The bytes to encrypt.
    ///   - recipients: Who can decrypt.
    /// - Returns: The age file.
    /// - Throws: As ``AgeEncryptor/init(recipients:fileKey:payloadNonce:ephemeralSecrets:)``.
    public static func encrypt(_ plaintext: [UInt8], to recipients: [any AgeRecipient]) throws -> [UInt8] {
        try encrypt(plaintext, with: AgeEncryptor(recipients: recipients))
    }

    /// Encrypts a whole plaintext in memory with a prepared encryptor, for deterministic output.
    ///
    /// - Parameters:
    ///   - plaintext: The bytes to encrypt.
    ///   - encryptor: A fresh encryptor.
    /// - Returns: The age file.
    /// - Throws: ``AgeError`` of kind `.payload` when the encryptor was already used.
    public static func encrypt(_ plaintext: [UInt8], with encryptor: AgeEncryptor) throws -> [UInt8] {
        var encryptor = encryptor
        let chunkCount = max(1, (plaintext.count + chunkSize - 1) / chunkSize)
        var output = encryptor.header
        output.reserveCapacity(output.count + plaintext.count + chunkCount * 16)
        try plaintext.withUnsafeBytes { all in
            for index in 0..<chunkCount {
                let start = index * chunkSize
                let end = min(start + chunkSize, all.count)
                let chunk = UnsafeRawBufferPointer(rebasing: all[start..<end])
                try encryptor.seal(chunk, isFinal: index == chunkCount - 1, appendingTo: &output)
            }
        }
        return output
    }

    /// Decrypts a whole age file in memory.
    ///
    /// - Parameters:
    ///   - file: The age file.
    ///   - identities: The identities to try.
    /// - Returns: The plaintext.
    /// - Throws: As ``AgeDecryptor/feed(_:output:)`` and ``AgeDecryptor/finish(output:)``.
    public static func decrypt(_ file: [UInt8], with identities: [any AgeIdentity]) throws -> [UInt8] {
        var decryptor = AgeDecryptor(identities: identities)
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(file.count)
        try file.withUnsafeBytes { bytes in
            try decryptor.feed(bytes) { plaintext.appendRaw($0) }
        }
        try decryptor.finish { plaintext.appendRaw($0) }
        return plaintext
    }
}
