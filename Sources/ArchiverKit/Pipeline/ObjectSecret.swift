public import Age
import Crypto
import Foundation

/// A per-object secret from which deterministic mode derives every random input of one age object.
///
/// With the same secret, plaintext and pipeline format, the pipeline reproduces the object byte for byte; the
/// Baidu backend relies on this to hash an object in one pass and upload it in a second without a temporary copy.
/// Rules: a secret is 32 fresh random bytes for each (file version, segment, attempt) and never serves two
/// different plaintexts (reusing it would reuse the payload key and nonce); it is stored no less safely than a
/// token file and erased once the object is committed. Keys are never derived from file content.
public struct ObjectSecret: Sendable, Equatable {
    /// The 32 secret bytes.
    public let bytes: [UInt8]

    /// Wraps stored secret bytes.
    /// - Parameter bytes: exactly 32 bytes.
    /// - Throws: `ArchiverError(.internalError)` for another length.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw ArchiverError(.internalError, "an object secret must be 32 bytes, not \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// A fresh secret from the system's random generator.
    public static func random() -> ObjectSecret {
        var rng = SystemRandomNumberGenerator()
        // swift-format-ignore
        return try! ObjectSecret(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }

    /// Distinct HKDF labels keep the derived values independent of one another.
    private func derive(_ label: String, count: Int) -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: bytes),
            salt: [UInt8](),
            info: Array("archiver.v1 deterministic \(label)".utf8),
            outputByteCount: count)
        return key.withUnsafeBytes { Array($0) }
    }

    /// The age file key (16 bytes).
    public var fileKey: FileKey { try! FileKey(bytes: derive("file key", count: 16)) }

    /// The age payload nonce (16 bytes).
    public var payloadNonce: [UInt8] { derive("payload nonce", count: 16) }

    /// The ephemeral X25519 secret for the recipient at `index` (32 bytes each).
    /// - Parameter count: how many recipients.
    public func ephemeralSecrets(count: Int) -> [[UInt8]] {
        (0..<count).map { derive("x25519 ephemeral \($0)", count: 32) }
    }
}
