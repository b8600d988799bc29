import Crypto
import Foundation

/// Decrypts an AES Crypt version 2 stream as pyAesCrypt writes it (encrypt2bdy from December 2023), in bounded
/// memory.
///
/// Layout: `"AES" | 0x02 | 0x00 | extensions (u16 length + bytes, ended by a zero length) | IV1 (16) |
/// AES-256-CBC(key, IV1)(IV2 | key2) (48) | HMAC-SHA256(key)(those 48 bytes) (32) | AES-256-CBC(key2, IV2) data |
/// plaintext length mod 16 (1) | HMAC-SHA256(key2)(data) (32)`, where `key` is SHA-256 iterated 8192 times over
/// `digest | UTF-16LE passphrase`, starting from `IV1 | 16 zero bytes`. The last data block carries padding whose
/// length follows from the size byte. The first HMAC checks the passphrase before any data is read; the second,
/// over the ciphertext, is updated chunk by chunk and compared in constant time at the end, before the last
/// plaintext is written. As with `FernetDecoder`, the sink must be a temporary file committed only on success.
public enum AESCryptDecoder {
    /// Ciphertext read at a time (pyAesCrypt's own buffer size).
    static let chunkSize = 64 * 1024
    private static let trailerSize = 1 + 32

    /// Decrypts one AES Crypt file from `source` into `sink`.
    /// - Parameters:
    ///   - source: the encrypted stream.
    ///   - sink: receives the plaintext.
    ///   - passphrase: the passphrase (encrypt2bdy's `USER_PASSKEY`).
    ///   - file: the input's name for messages.
    /// - Returns: the number of plaintext bytes.
    /// - Throws: `ArchiverError` — `.usage` when the input is not AES Crypt version 2, `.key` for a wrong
    ///   passphrase, `.integrity` when it is truncated or altered — or whatever the source or sink throws.
    @discardableResult
    public static func decode(
        from source: any ByteSource, to sink: any ByteSink, passphrase: String, file: String
    ) throws -> Int64 {
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        /// Reads exactly `count` (at most `chunkSize`) header bytes into the front of `buffer`.
        func header(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
            let n = try buffer.withUnsafeMutableBytes {
                try source.readFull(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<count]))
            }
            guard n == count else { throw E2bdyFormat.truncated(.aesCrypt, file: file, "it ends inside the \(what)") }
            return buffer[0..<count]
        }

        let start = try buffer.withUnsafeMutableBytes {
            try source.readFull(into: UnsafeMutableRawBufferPointer(rebasing: $0[..<5]))
        }
        let magic = Array(buffer[0..<start])
        guard start >= 3, magic.starts(with: Array("AES".utf8)) else {
            if start == 0 { throw E2bdyFormat.truncated(.aesCrypt, file: file, "the file is empty") }
            throw E2bdyFormat.notThisFormat(.aesCrypt, file: file, prefix: magic)
        }
        guard start == 5 else { throw E2bdyFormat.truncated(.aesCrypt, file: file, "it ends inside the header") }
        guard magic[3] == 2 else {
            throw ArchiverError(
                .usage,
                "this is AES Crypt format version \(magic[3]); only version 2 is read here, which is what pyAesCrypt "
                    + "(and so encrypt2bdy) writes. Decrypt it with the tool that made it",
                subject: file)
        }
        while true {
            let length = try header(2, "extension list")
            let size = Int(length[length.startIndex]) << 8 | Int(length[length.startIndex + 1])
            if size == 0 { break }
            _ = try header(size, "extension list")
        }
        let iv1 = Array(try header(16, "header (IV)"))
        let wrapped = Array(try header(48, "header (encrypted key)"))
        let headerMAC = Array(try header(32, "header (HMAC)"))

        let key = stretch(passphrase, iv1: iv1)
        guard HMAC<SHA256>.isValidAuthenticationCode(headerMAC, authenticating: wrapped, using: key) else {
            throw ArchiverError(
                .key,
                "wrong passphrase for this AES Crypt file (encrypt2bdy's USER_PASSKEY, exactly as it was set; the "
                    + "trailing newlines of the passphrase file are ignored), or its header is damaged. "
                    + "Nothing was written",
                subject: file)
        }
        var inner: [UInt8] = []
        var keyChain = CBCChain(key: key, iv: iv1)
        try wrapped.withUnsafeBytes { try keyChain.decrypt($0) { inner = Array($0) } }
        let dataKey = SymmetricKey(data: inner[16..<48])
        var chain = CBCChain(key: dataKey, iv: inner[0..<16])
        var mac = HMAC<SHA256>(key: dataKey)
        var splitter = TrailerSplitter(trailer: trailerSize, chunk: chunkSize)
        var written: Int64 = 0

        func emit(_ blocks: UnsafeRawBufferPointer) throws {
            mac.update(data: blocks)
            try chain.decrypt(blocks) { plain in
                try sink.write(plain)
                written += Int64(plain.count)
            }
        }
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try splitter.feed(UnsafeRawBufferPointer(rebasing: $0[..<n]), emit: emit) }
        }
        let result: Int64? = try splitter.finish { lastBlocks, trailer in
            mac.update(data: lastBlocks)
            guard mac.finalize() == UnsafeRawBufferPointer(rebasing: trailer[1...]) else {
                throw E2bdyFormat.tampered(
                    .aesCrypt, file: file, "the HMAC over the data does not match, so it was altered")
            }
            let sizeMod16 = Int(trailer[0])
            let padding = (CBCChain.blockSize - sizeMod16) % CBCChain.blockSize
            // Authenticated data with an impossible size byte means a broken writer; refuse it all the same.
            guard sizeMod16 < CBCChain.blockSize, padding == 0 || !lastBlocks.isEmpty else {
                throw E2bdyFormat.tampered(.aesCrypt, file: file, "the size byte \(sizeMod16) does not fit the data")
            }
            try chain.decrypt(lastBlocks) { plain in
                // The size byte is outside both HMACs (a gap of format version 2), but pyAesCrypt pads with bytes
                // whose value is the padding length, so a changed size byte shows here.
                guard plain.suffix(padding).allSatisfy({ Int($0) == padding }) else {
                    throw E2bdyFormat.tampered(
                        .aesCrypt, file: file, "the size byte \(sizeMod16) does not match the padding of the data")
                }
                try sink.write(UnsafeRawBufferPointer(rebasing: plain[..<(plain.count - padding)]))
                written += Int64(plain.count - padding)
            }
            return written
        }
        guard let result else {
            throw E2bdyFormat.truncated(
                .aesCrypt, file: file, "the data is not a whole number of 16-byte blocks followed by the HMAC")
        }
        return result
    }

    /// pyAesCrypt's key derivation: SHA-256 applied 8192 times to `digest | passphrase (UTF-16LE)`, the digest
    /// starting as IV1 followed by 16 zero bytes.
    static func stretch(_ passphrase: String, iv1: [UInt8]) -> SymmetricKey {
        var input = iv1 + [UInt8](repeating: 0, count: 16)
        for unit in passphrase.utf16 {
            input.append(UInt8(truncatingIfNeeded: unit))
            input.append(UInt8(truncatingIfNeeded: unit >> 8))
        }
        for _ in 0..<8192 {
            let digest = SHA256.hash(data: input)
            input.withUnsafeMutableBytes { raw in digest.withUnsafeBytes { raw.copyMemory(from: $0) } }
        }
        return SymmetricKey(data: input[0..<32])
    }
}
