import Crypto
import Foundation

/// Hex SHA-256, for comparing released plaintext with the CCTV vectors' `payload` digests.
enum SHA256Digest {
    static func hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
