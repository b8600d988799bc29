import Crypto
import CryptoExtras

/// A passphrase recipient: the file key is wrapped under a key derived with scrypt.
///
/// An scrypt stanza must be the only stanza of a header, so ``AgeEncryptor`` refuses to mix this recipient
/// with any other.
public struct ScryptRecipient: AgeRecipient {
    private let passphrase: [UInt8]
    private let workFactor: Int

    static let stanzaType = "scrypt"
    static let saltLabel: [UInt8] = Array("age-encryption.org/v1/scrypt".utf8)
    static let saltByteCount = 16
    /// The largest work factor this module will ever compute: 2^30 rounds need 1 TiB, far past any use.
    static let hardMaxWorkFactor = 30

    /// Creates a passphrase recipient.
    ///
    /// - Parameters:
    ///   - passphrase: The passphrase; its UTF-8 bytes are the scrypt password.
    ///   - workFactor: log2 of the scrypt cost N, 1…30. Each step doubles time and memory (128·8·2^N bytes);
    ///     files above ``Age/maxScryptWorkFactor`` cannot be decrypted by ``ScryptIdentity`` by default.
    public init(passphrase: String, workFactor: Int = 18) {
        self.passphrase = Array(passphrase.utf8)
        self.workFactor = workFactor
    }

    /// Wraps the file key under the passphrase.
    ///
    /// - Parameters:
    ///   - fileKey: The key to wrap.
    ///   - ephemeralSecret: 32 bytes whose first 16 are the salt, or nil for a fresh salt.
    /// - Returns: An `scrypt` stanza.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when the secret is not 32 bytes or the work factor is
    ///   outside 1…30.
    public func wrap(fileKey: FileKey, ephemeralSecret: [UInt8]?) throws -> Stanza {
        guard (1...Self.hardMaxWorkFactor).contains(workFactor) else {
            throw AgeError(
                .invalidKey, "the scrypt work factor must be 1…\(Self.hardMaxWorkFactor), not \(workFactor)"
            )
        }
        let salt = Array(try ephemeralSecretOrRandom(ephemeralSecret).prefix(Self.saltByteCount))
        let key = try Self.deriveKey(passphrase: passphrase, salt: salt, workFactor: workFactor)
        let body = try Primitives.wrapFileKey(fileKey, with: key)
        return Stanza(type: Self.stanzaType, arguments: [Base64.encode(salt), String(workFactor)], body: body)
    }

    static func deriveKey(passphrase: [UInt8], salt: [UInt8], workFactor: Int) throws -> SymmetricKey {
        do {
            return try KDF.Scrypt.deriveKey(
                from: passphrase,
                salt: saltLabel + salt,
                outputByteCount: 32,
                rounds: 1 << workFactor,
                blockSize: 8,
                parallelism: 1
            )
        } catch {
            throw AgeError(
                .header, "scrypt with work factor \(workFactor) failed (it needs \(memoryText(workFactor))): \(error)"
            )
        }
    }

    /// The memory scrypt needs at a work factor, 128·r·N bytes with r = 8, for messages.
    static func memoryText(_ workFactor: Int) -> String {
        if workFactor >= 50 { return "2^\(workFactor) KiB" }
        let log2Bytes = workFactor + 10
        let units = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")]
        for (shift, unit) in units where log2Bytes >= shift {
            return "\(1 << (log2Bytes - shift)) \(unit)"
        }
        return "\(1 << log2Bytes) bytes"
    }
}

/// A passphrase identity: unwraps the file key from an `scrypt` stanza.
public struct ScryptIdentity: AgeIdentity {
    private let passphrase: [UInt8]
    private let maxWorkFactor: Int

    /// Creates a passphrase identity.
    ///
    /// - Parameters:
    ///   - passphrase: The passphrase; its UTF-8 bytes are the scrypt password.
    ///   - maxWorkFactor: The highest work factor accepted; a file asking for more is refused before any
    ///     work. Values above 30 act as 30.
    public init(passphrase: String, maxWorkFactor: Int = Age.maxScryptWorkFactor) {
        self.passphrase = Array(passphrase.utf8)
        self.maxWorkFactor = min(maxWorkFactor, ScryptRecipient.hardMaxWorkFactor)
    }

    /// Unwraps the file key from the header's `scrypt` stanza.
    ///
    /// - Parameter stanzas: Every stanza of the header.
    /// - Returns: The file key, nil when there is no `scrypt` stanza or the passphrase is wrong.
    /// - Throws: ``AgeError`` of kind `.header` when an `scrypt` stanza is not alone in the header, does not
    ///   have exactly a 16-byte canonical base64 salt and a canonical decimal work factor, asks for a work
    ///   factor above the cap, or has a body that is not 32 bytes.
    public func unwrap(stanzas: [Stanza]) throws -> FileKey? {
        guard let stanza = stanzas.first(where: { $0.type == ScryptRecipient.stanzaType }) else { return nil }
        // Otherwise anyone who can add a stanza could make a passphrase file decrypt with their key too.
        guard stanzas.count == 1 else {
            throw AgeError(.header, "an scrypt stanza must be the only stanza in the header")
        }
        guard stanza.arguments.count == 2 else {
            throw AgeError(
                .header, "an scrypt stanza has two arguments (salt, work factor), not \(stanza.arguments.count)"
            )
        }
        guard let salt = Base64.decode(stanza.arguments[0]), salt.count == ScryptRecipient.saltByteCount else {
            throw AgeError(.header, "the scrypt salt is not canonical base64 of 16 bytes")
        }
        let workFactor = try parseWorkFactor(stanza.arguments[1])
        guard stanza.body.count == FileKey.byteCount + 16 else {
            throw AgeError(.header, "an scrypt stanza body is 32 bytes, not \(stanza.body.count)")
        }
        let key = try ScryptRecipient.deriveKey(passphrase: passphrase, salt: salt, workFactor: workFactor)
        // A body that does not authenticate means a wrong passphrase, which is "not for us", not corruption.
        return Primitives.unwrapFileKey(stanza.body, with: key)
    }

    /// Parses the work factor: a canonical decimal (no sign, no leading zero) from 1 to the cap.
    private func parseWorkFactor(_ text: String) throws -> Int {
        let digits = Array(text.utf8)
        let isDecimal = !digits.isEmpty && digits.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard isDecimal, digits[0] != UInt8(ascii: "0") || digits.count == 1 else {
            throw AgeError(.header, "the scrypt work factor \"\(text)\" is not a canonical decimal number")
        }
        if text == "0" {
            throw AgeError(.header, "the scrypt work factor must be at least 1, not 0")
        }
        guard let value = Int(text), value <= maxWorkFactor else { return try refuse(text) }
        return value
    }

    private func refuse(_ text: String) throws -> Int {
        let need = Int(text).map { ScryptRecipient.memoryText($0) } ?? "an impossible amount"
        throw AgeError(
            .header,
            "the scrypt work factor \(text) exceeds the cap of \(maxWorkFactor): it would need \(need) of memory, "
                + "the cap allows \(ScryptRecipient.memoryText(maxWorkFactor))"
        )
    }
}
