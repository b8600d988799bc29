import Crypto
import Foundation

/// The key of a Fernet token: what `Fernet.generate_key()` wrote to encrypt2bdy's `encrypt.key`, the base64url
/// text of 32 bytes, the first 16 signing (HMAC-SHA256) and the last 16 encrypting (AES-128-CBC).
public struct FernetKey: Sendable {
    let signing: SymmetricKey
    let encryption: SymmetricKey

    /// Parses a key file's text.
    /// - Parameters:
    ///   - text: the file's text; surrounding whitespace is ignored.
    ///   - file: the key file, for messages.
    /// - Throws: `ArchiverError(.key)` when it is not 32 bytes of base64url.
    public init(text: String, file: String) throws {
        var stream = Base64Stream()
        var bytes: [UInt8] = []
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            try Array(trimmed.utf8).withUnsafeBytes { try stream.decode($0, into: &bytes) }
            try stream.finish(into: &bytes)
        } catch {
            bytes = []
        }
        guard bytes.count == 32 else {
            throw ArchiverError(
                .key,
                "not a Fernet key: expected the 44 characters of base64 that encrypt2bdy wrote to encrypt.key "
                    + "(32 bytes), found \(trimmed.count) characters",
                subject: file)
        }
        signing = SymmetricKey(data: bytes[0..<16])
        encryption = SymmetricKey(data: bytes[16..<32])
    }

    /// Reads a key file (encrypt2bdy's `config/encrypt.key`).
    /// - Parameter path: the file.
    /// - Throws: `ArchiverError(.key)` when it is unreadable or not a Fernet key.
    public static func read(_ path: String) throws -> FernetKey {
        try FernetKey(text: try KeyFiles.readSmallTextFile(path, what: "Fernet key file"), file: path)
    }
}

/// Decrypts a Fernet token as encrypt2bdy stored it (the token's base64 text is the file) in bounded memory.
///
/// Token: `0x80 | timestamp (8) | IV (16) | AES-128-CBC ciphertext, PKCS #7 | HMAC-SHA256 (32)` over all before the
/// HMAC, in base64url. The text is decoded a chunk at a time, the HMAC updated as it goes, and the ciphertext
/// decrypted block-wise; the last block (padding) and the HMAC are held back until the end, where the HMAC is
/// compared in constant time before the last plaintext is written. Plaintext before that point reaches the sink
/// unauthenticated: the sink must be a temporary file that is committed only when this returns (as `archiver
/// decrypt` does).
public enum FernetDecoder {
    /// The text read at a time.
    static let chunkSize = 64 * 1024
    private static let headerSize = 1 + 8 + 16
    private static let macSize = 32

    /// Decrypts one token from `source` into `sink`.
    /// - Parameters:
    ///   - source: the token's text.
    ///   - sink: receives the plaintext.
    ///   - key: the Fernet key.
    ///   - file: the input's name for messages.
    /// - Returns: the number of plaintext bytes.
    /// - Throws: `ArchiverError` — `.usage` when the input is not a Fernet token, `.integrity` when it is truncated
    ///   or fails authentication (the wrong key, or altered) — or whatever the source or sink throws.
    @discardableResult
    public static func decode(
        from source: any ByteSource, to sink: any ByteSink, key: FernetKey, file: String
    ) throws -> Int64 {
        var text = [UInt8](repeating: 0, count: chunkSize)
        var decoded: [UInt8] = []
        decoded.reserveCapacity(chunkSize / 4 * 3 + 3)
        var base64 = Base64Stream()
        var header: [UInt8] = []
        var prefix: [UInt8] = []
        var mac = HMAC<SHA256>(key: key.signing)
        var splitter = TrailerSplitter(trailer: macSize, chunk: decoded.capacity)
        var chain: CBCChain?
        var written: Int64 = 0

        func emit(_ blocks: UnsafeRawBufferPointer) throws {
            mac.update(data: blocks)
            try chain!.decrypt(blocks) { plain in
                try sink.write(plain)
                written += Int64(plain.count)
            }
        }
        func consume(_ bytes: inout [UInt8]) throws {
            var start = 0
            if header.count < headerSize {
                start = min(headerSize - header.count, bytes.count)
                header += bytes[0..<start]
                if header.count == headerSize {
                    guard header[0] == 0x80 else {
                        throw E2bdyFormat.notThisFormat(.fernet, file: file, prefix: prefix)
                    }
                    header.withUnsafeBytes { mac.update(data: $0) }
                    chain = CBCChain(key: key.encryption, iv: header[9..<25])
                }
            }
            try bytes.withUnsafeBytes { try splitter.feed(UnsafeRawBufferPointer(rebasing: $0[start...]), emit: emit) }
            bytes.removeAll(keepingCapacity: true)
        }
        func problem(_ error: Base64Stream.Problem) -> ArchiverError {
            switch error {
            case .dangling where prefix.starts(with: E2bdyFormat.fernetPrefix):
                return E2bdyFormat.truncated(.fernet, file: file, "the base64 text ends in the middle of a group")
            case .dangling:
                // Text that merely decodes as base64 (and 1 in 256 starts with the 0x80 version byte) is no token.
                return E2bdyFormat.notThisFormat(.fernet, file: file, prefix: prefix)
            case .invalid(let offset, let byte) where prefix.starts(with: E2bdyFormat.fernetPrefix):
                return E2bdyFormat.tampered(
                    .fernet, file: file, "byte \(offset) (0x\(String(byte, radix: 16))) is not base64")
            case .afterPadding(let offset):
                return E2bdyFormat.tampered(
                    .fernet, file: file, "text continues after the '=' padding at byte \(offset)")
            case .invalid:
                return E2bdyFormat.notThisFormat(.fernet, file: file, prefix: prefix)
            }
        }

        while true {
            let n = try text.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            if prefix.count < 5 { prefix += text[0..<min(n, 5 - prefix.count)] }
            do {
                try text.withUnsafeBytes {
                    try base64.decode(UnsafeRawBufferPointer(rebasing: $0[..<n]), into: &decoded)
                }
            } catch let error as Base64Stream.Problem {
                throw problem(error)
            }
            try consume(&decoded)
        }
        do {
            try base64.finish(into: &decoded)
        } catch let error as Base64Stream.Problem {
            throw problem(error)
        }
        try consume(&decoded)
        if prefix.isEmpty { throw E2bdyFormat.truncated(.fernet, file: file, "the file is empty") }
        guard header.count == headerSize else {
            if !prefix.starts(with: E2bdyFormat.fernetPrefix.prefix(prefix.count)) {
                throw E2bdyFormat.notThisFormat(.fernet, file: file, prefix: prefix)
            }
            throw E2bdyFormat.truncated(.fernet, file: file, "it ends inside the 25-byte header")
        }

        let result: Int64? = try splitter.finish { lastBlocks, trailer in
            guard !lastBlocks.isEmpty else {
                throw E2bdyFormat.truncated(.fernet, file: file, "no ciphertext before the HMAC")
            }
            mac.update(data: lastBlocks)
            guard mac.finalize() == trailer else {
                throw E2bdyFormat.tampered(
                    .fernet, file: file,
                    "the HMAC does not match, so either this is not the encrypt.key that encrypted it (each "
                        + "encrypt2bdy installation generated its own) or the file was altered")
            }
            try chain!.decrypt(lastBlocks) { plain in
                // Authenticated, so a bad padding means a bug in the writer, not an attack; still refuse it.
                let pad = Int(plain[plain.count - 1])
                guard (1...CBCChain.blockSize).contains(pad), plain.suffix(pad).allSatisfy({ Int($0) == pad }) else {
                    throw E2bdyFormat.tampered(.fernet, file: file, "the PKCS #7 padding is malformed")
                }
                try sink.write(UnsafeRawBufferPointer(rebasing: plain[..<(plain.count - pad)]))
                written += Int64(plain.count - pad)
            }
            return written
        }
        guard let result else {
            throw E2bdyFormat.truncated(.fernet, file: file, "the ciphertext is not a whole number of 16-byte blocks")
        }
        return result
    }
}
