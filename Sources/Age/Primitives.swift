import Crypto

/// The key-derivation and AEAD steps shared by the header, the recipients and the payload.
enum Primitives {
    /// HKDF-SHA-256 producing a 32-byte key.
    static func hkdf(ikm: SymmetricKey, salt: [UInt8], info: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: ikm, salt: salt, info: Array(info.utf8), outputByteCount: 32)
    }

    /// The key of the header MAC: HKDF(ikm: file key, salt: empty, info: "header").
    static func headerMACKey(_ fileKey: FileKey) -> SymmetricKey {
        hkdf(ikm: fileKey.symmetricKey, salt: [], info: "header")
    }

    /// The key of the payload: HKDF(ikm: file key, salt: payload nonce, info: "payload").
    static func payloadKey(_ fileKey: FileKey, nonce: [UInt8]) -> SymmetricKey {
        hkdf(ikm: fileKey.symmetricKey, salt: nonce, info: "payload")
    }

    /// The header MAC over the bytes from the version line through `---`.
    static func headerMAC(fileKey: FileKey, covered: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: covered, using: headerMACKey(fileKey)))
    }

    /// Checks a header MAC in constant time.
    static func verifyHeaderMAC(_ mac: [UInt8], fileKey: FileKey, covered: [UInt8]) -> Bool {
        HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: covered, using: headerMACKey(fileKey))
    }

    /// The all-zero nonce of the key-wrapping AEAD: each wrapping key is used once, so it needs no nonce.
    private static let zeroNonce = try! ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12))

    /// Encrypts a file key under a single-use wrapping key.
    static func wrapFileKey(_ fileKey: FileKey, with key: SymmetricKey) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(fileKey.bytes, using: key, nonce: zeroNonce)
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// Decrypts a wrapped file key, or returns nil when it does not authenticate under `key`.
    ///
    /// The caller must already have checked that the body is 32 bytes, so a longer key is never decrypted.
    static func unwrapFileKey(_ body: [UInt8], with key: SymmetricKey) -> FileKey? {
        guard body.count == FileKey.byteCount + 16,
            let box = try? ChaChaPoly.SealedBox(combined: zeroNonceBytes + body),
            let opened = try? ChaChaPoly.open(box, using: key)
        else { return nil }
        return try? FileKey(bytes: Array(opened))
    }

    private static let zeroNonceBytes = [UInt8](repeating: 0, count: 12)
}
