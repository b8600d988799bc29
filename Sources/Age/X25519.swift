import Crypto

/// An X25519 recipient, written `age1…` (Bech32, human-readable part `age`).
public struct X25519Recipient: AgeRecipient, Hashable, CustomStringConvertible {
    /// The recipient's 32-byte Curve25519 public key.
    public let publicKey: [UInt8]

    static let hrp = "age"
    static let stanzaType = "X25519"
    static let info = "age-encryption.org/v1/X25519"

    /// Parses an `age1…` recipient string.
    ///
    /// - Parameter encoded: The recipient, all lowercase as age-keygen prints it.
    /// - Throws: ``AgeError`` of kind `.invalidKey` for bad Bech32, mixed case, uppercase, a wrong
    ///   human-readable part or a key that is not 32 bytes.
    public init(_ encoded: String) throws {
        let (hrp, data) = try Bech32.decode(encoded)
        guard hrp == Self.hrp else {
            if hrp.lowercased() == Self.hrp {
                throw AgeError(.invalidKey, "an X25519 recipient must be lowercase (\"age1…\")")
            }
            throw AgeError(
                .invalidKey, "not an X25519 recipient: the prefix is \"\(hrp)1\", expected \"\(Self.hrp)1\""
            )
        }
        try self.init(publicKey: data)
    }

    /// Creates a recipient from a raw public key.
    ///
    /// - Parameter publicKey: 32 bytes.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when the key is not 32 bytes.
    public init(publicKey: [UInt8]) throws {
        guard publicKey.count == 32 else {
            throw AgeError(.invalidKey, "an X25519 public key is 32 bytes, not \(publicKey.count)")
        }
        self.publicKey = publicKey
    }

    /// The canonical lowercase `age1…` string.
    public var description: String {
        Bech32.encode(hrp: Self.hrp, data: publicKey)
    }

    /// Wraps the file key for this recipient.
    ///
    /// - Parameters:
    ///   - fileKey: The key to wrap.
    ///   - ephemeralSecret: The 32-byte ephemeral private scalar, or nil for a fresh one.
    /// - Returns: An `X25519` stanza.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when the secret is not 32 bytes or the public key is a
    ///   low-order point (the shared secret would be all zeros).
    public func wrap(fileKey: FileKey, ephemeralSecret: [UInt8]?) throws -> Stanza {
        let ephemeral = try Curve25519.KeyAgreement.PrivateKey(
            rawRepresentation: try ephemeralSecretOrRandom(ephemeralSecret)
        )
        let share = Array(ephemeral.publicKey.rawRepresentation)
        let theirs = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey)
        guard
            let wrappingKey = try Self.wrappingKey(ours: ephemeral, theirs: theirs, share: share, recipient: publicKey)
        else {
            throw AgeError(.invalidKey, "the X25519 recipient \(self) is a low-order point")
        }
        let body = try Primitives.wrapFileKey(fileKey, with: wrappingKey)
        return Stanza(type: Self.stanzaType, arguments: [Base64.encode(share)], body: body)
    }

    /// Derives the wrapping key, or returns nil when the shared secret is all zeros.
    static func wrappingKey(
        ours: Curve25519.KeyAgreement.PrivateKey,
        theirs: Curve25519.KeyAgreement.PublicKey,
        share: [UInt8],
        recipient: [UInt8]
    ) throws -> SymmetricKey? {
        let shared = try ours.sharedSecretFromKeyAgreement(with: theirs)
        // A low-order point gives an all-zero secret whatever our key; the spec requires refusing it.
        let isZero = shared.withUnsafeBytes { bytes in bytes.reduce(UInt8(0)) { $0 | $1 } == 0 }
        if isZero { return nil }
        let ikm = shared.withUnsafeBytes { SymmetricKey(data: $0) }
        return Primitives.hkdf(ikm: ikm, salt: share + recipient, info: info)
    }
}

/// An X25519 identity, written `AGE-SECRET-KEY-1…` (Bech32, uppercase).
public struct X25519Identity: AgeIdentity {
    private let privateKey: Curve25519.KeyAgreement.PrivateKey

    /// The recipient that files for this identity are encrypted to.
    public let recipient: X25519Recipient

    static let hrp = "AGE-SECRET-KEY-"

    /// Generates a new identity from the system's secure random number generator.
    public static func generate() -> X25519Identity {
        try! X25519Identity(secretKey: secureRandomBytes(32))
    }

    /// Parses an `AGE-SECRET-KEY-1…` identity string.
    ///
    /// - Parameter encoded: The identity, all uppercase as age-keygen writes it.
    /// - Throws: ``AgeError`` of kind `.invalidKey` for bad Bech32, mixed case, lowercase, a wrong
    ///   human-readable part or a key that is not 32 bytes.
    public init(_ encoded: String) throws {
        let (hrp, data) = try Bech32.decode(encoded)
        guard hrp == Self.hrp else {
            if hrp.uppercased() == Self.hrp {
                throw AgeError(.invalidKey, "an X25519 identity must be uppercase (\"AGE-SECRET-KEY-1…\")")
            }
            throw AgeError(.invalidKey, "not an X25519 identity: the prefix is not \"\(Self.hrp)1\"")
        }
        try self.init(secretKey: data)
    }

    /// Creates an identity from a raw 32-byte secret key.
    ///
    /// - Parameter secretKey: 32 bytes; X25519 clamps them, so any value is a valid key.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when the key is not 32 bytes.
    public init(secretKey: [UInt8]) throws {
        guard secretKey.count == 32 else {
            throw AgeError(.invalidKey, "an X25519 secret key is 32 bytes, not \(secretKey.count)")
        }
        privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: secretKey)
        recipient = try X25519Recipient(publicKey: Array(privateKey.publicKey.rawRepresentation))
    }

    /// The canonical uppercase `AGE-SECRET-KEY-1…` string.
    public var encoded: String {
        Bech32.encode(hrp: Self.hrp, data: Array(privateKey.rawRepresentation))
    }

    /// Unwraps the file key from the first `X25519` stanza that authenticates under this identity.
    ///
    /// - Parameter stanzas: Every stanza of the header.
    /// - Returns: The file key, or nil when no `X25519` stanza is for this identity.
    /// - Throws: ``AgeError`` of kind `.header` for an `X25519` stanza without exactly one argument, with a
    ///   share that is not canonical base64 of 32 bytes, with a body that is not 32 bytes, or with a
    ///   low-order share.
    public func unwrap(stanzas: [Stanza]) throws -> FileKey? {
        for stanza in stanzas where stanza.type == X25519Recipient.stanzaType {
            guard stanza.arguments.count == 1 else {
                throw AgeError(.header, "an X25519 stanza has one argument, not \(stanza.arguments.count)")
            }
            guard let share = Base64.decode(stanza.arguments[0]), share.count == 32 else {
                throw AgeError(.header, "the X25519 share is not canonical base64 of 32 bytes")
            }
            // Checked before decrypting so a longer "file key" is never released, as the spec requires.
            guard stanza.body.count == FileKey.byteCount + 16 else {
                throw AgeError(.header, "an X25519 stanza body is 32 bytes, not \(stanza.body.count)")
            }
            let theirs = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: share)
            guard
                let wrappingKey = try X25519Recipient.wrappingKey(
                    ours: privateKey, theirs: theirs, share: share, recipient: recipient.publicKey
                )
            else {
                throw AgeError(.header, "the X25519 share is a low-order point")
            }
            // A body that does not authenticate was wrapped for someone else: keep looking.
            if let fileKey = Primitives.unwrapFileKey(stanza.body, with: wrappingKey) {
                return fileKey
            }
        }
        return nil
    }
}
