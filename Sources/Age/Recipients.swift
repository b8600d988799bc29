/// Something a file key can be wrapped for: one stanza of the header.
public protocol AgeRecipient: Sendable {
    /// Wraps the file key in one stanza.
    ///
    /// - Parameters:
    ///   - fileKey: The key to wrap.
    ///   - ephemeralSecret: 32 bytes of caller-supplied randomness (for X25519: the ephemeral private scalar;
    ///     for scrypt: the first 16 bytes are the salt) for deterministic output; nil draws fresh randomness.
    /// - Returns: The stanza to write in the header.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when `ephemeralSecret` is not 32 bytes or the key is unusable.
    func wrap(fileKey: FileKey, ephemeralSecret: [UInt8]?) throws -> Stanza
}

/// Something that can unwrap a file key from the header stanzas addressed to it.
public protocol AgeIdentity: Sendable {
    /// Returns the file key if a stanza is addressed to this identity, nil if none is.
    ///
    /// - Parameter stanzas: Every stanza of the header, in order.
    /// - Returns: The unwrapped file key, or nil when no stanza is for this identity.
    /// - Throws: ``AgeError`` (usually `.header`) for a malformed stanza of this identity's own type.
    func unwrap(stanzas: [Stanza]) throws -> FileKey?
}

/// The size of the caller-supplied randomness a recipient takes.
let ephemeralSecretByteCount = 32

/// Returns caller-supplied randomness after checking its size, or fresh randomness.
func ephemeralSecretOrRandom(_ secret: [UInt8]?) throws -> [UInt8] {
    guard let secret else { return secureRandomBytes(ephemeralSecretByteCount) }
    guard secret.count == ephemeralSecretByteCount else {
        throw AgeError(.invalidKey, "an ephemeral secret is \(ephemeralSecretByteCount) bytes, not \(secret.count)")
    }
    return secret
}
