import Crypto

/// The 16-byte symmetric key of one age file, wrapped for each recipient in the header.
public struct FileKey: Sendable {
    /// The size of a file key in bytes.
    public static let byteCount = 16

    /// The key's bytes.
    public let bytes: [UInt8]

    /// Wraps existing key bytes, for deterministic output and tests.
    ///
    /// - Parameter bytes: Exactly 16 bytes.
    /// - Throws: ``AgeError`` of kind `.invalidKey` when `bytes` is not 16 bytes long.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw AgeError(.invalidKey, "a file key is \(Self.byteCount) bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Draws a fresh key from the system's secure random number generator.
    public static func random() -> FileKey {
        // SymmetricKey(size:) draws from the system CSPRNG, which is what every fresh secret here needs.
        let key = SymmetricKey(size: .init(bitCount: byteCount * 8))
        return try! FileKey(bytes: key.withUnsafeBytes { Array($0) })
    }

    /// The key as swift-crypto input key material.
    var symmetricKey: SymmetricKey {
        SymmetricKey(data: bytes)
    }
}

/// Fresh secret bytes from the system CSPRNG.
func secureRandomBytes(_ count: Int) -> [UInt8] {
    SymmetricKey(size: .init(bitCount: count * 8)).withUnsafeBytes { Array($0) }
}
