/// Canonical, unpadded standard base64 (RFC 4648 §4 without `=`), the only encoding the age header allows.
///
/// Decoding is strict because the header MAC covers the encoded text: accepting two spellings of the same
/// bytes would let a header be altered without changing what it means, so padding, characters outside the
/// alphabet (including CR and whitespace) and non-zero trailing bits are all refused.
enum Base64 {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Maps a byte to its 6-bit value, or 0xFF for a byte outside the alphabet.
    private static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, char) in alphabet.enumerated() {
            table[Int(char)] = UInt8(value)
        }
        return table
    }()

    /// The number of characters the unpadded encoding of `byteCount` bytes takes.
    static func encodedLength(_ byteCount: Int) -> Int {
        (byteCount * 8 + 5) / 6
    }

    /// Encodes bytes without padding.
    static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: encodeToBytes(bytes), as: UTF8.self)
    }

    /// Encodes bytes without padding, as ASCII bytes.
    static func encodeToBytes(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(encodedLength(bytes.count))
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in bytes {
            accumulator = (accumulator << 8) | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                out.append(alphabet[Int((accumulator >> UInt32(bits)) & 0x3F)])
            }
        }
        if bits > 0 {
            out.append(alphabet[Int((accumulator << UInt32(6 - bits)) & 0x3F)])
        }
        return out
    }

    /// Decodes canonical unpadded base64.
    ///
    /// - Parameter text: The encoded characters, as ASCII bytes.
    /// - Returns: The decoded bytes, or nil when `text` is not the canonical encoding of any byte string.
    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        // A single leftover character carries only 6 bits, less than one byte: no encoder produces it.
        if text.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for char in text {
            let value = decodeTable[Int(char)]
            if value == 0xFF { return nil }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        // The bits left over must be zero, otherwise several encodings would decode to the same bytes.
        if bits > 0 && accumulator & ((1 << UInt32(bits)) - 1) != 0 { return nil }
        return out
    }

    /// Decodes canonical unpadded base64 from a string.
    static func decode(_ text: String) -> [UInt8]? {
        decode(Array(text.utf8))
    }
}
