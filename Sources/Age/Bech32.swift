/// Bech32 (BIP-173, not bech32m), the encoding of age recipients and identities.
///
/// Unlike BIP-173 there is no 90-character limit, since age identities are longer than that; everything
/// else is strict: a valid checksum, no mixed case, data characters from the Bech32 alphabet only, and
/// padding bits that are zero and fewer than five.
enum Bech32 {
    private static let charset: [UInt8] = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    private static let charsetReverse: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (value, char) in charset.enumerated() {
            table[Int(char)] = Int8(value)
        }
        return table
    }()

    private static let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]

    private static func polymod(_ values: [UInt8]) -> UInt32 {
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 {
                checksum ^= generator[index]
            }
        }
        return checksum
    }

    /// The human-readable part spread over 5-bit values, as the checksum covers it (always lowercase).
    private static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    private static func checksum(hrp: [UInt8], data: [UInt8]) -> [UInt8] {
        let mod = polymod(expand(hrp) + data + [0, 0, 0, 0, 0, 0]) ^ 1
        return (0..<6).map { UInt8((mod >> UInt32(5 * (5 - $0))) & 31) }
    }

    /// Regroups bits from `fromBits`-wide values into `toBits`-wide values.
    ///
    /// - Returns: nil when `pad` is false and the input leaves a non-zero remainder or a whole spare group.
    private static func convertBits(_ data: [UInt8], from fromBits: Int, to toBits: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        var out: [UInt8] = []
        let maxValue = (1 << toBits) - 1
        for value in data {
            accumulator = (accumulator << fromBits) | Int(value)
            bits += fromBits
            while bits >= toBits {
                bits -= toBits
                out.append(UInt8((accumulator >> bits) & maxValue))
            }
            accumulator &= (1 << bits) - 1
        }
        if pad {
            if bits > 0 {
                out.append(UInt8((accumulator << (toBits - bits)) & maxValue))
            }
        } else if bits >= fromBits || accumulator != 0 {
            return nil
        }
        return out
    }

    /// Encodes bytes under a human-readable part.
    ///
    /// - Parameters:
    ///   - hrp: The human-readable part; the result is uppercase when it is uppercase, lowercase otherwise.
    ///   - data: The bytes to encode.
    static func encode(hrp: String, data: [UInt8]) -> String {
        let lowerHRP = Array(hrp.lowercased().utf8)
        let values = convertBits(data, from: 8, to: 5, pad: true) ?? []
        var out = lowerHRP + [UInt8(ascii: "1")]
        for value in values + checksum(hrp: lowerHRP, data: values) {
            out.append(charset[Int(value)])
        }
        let encoded = String(decoding: out, as: UTF8.self)
        return hrp == hrp.uppercased() && hrp != hrp.lowercased() ? encoded.uppercased() : encoded
    }

    /// Decodes a Bech32 string.
    ///
    /// - Returns: The human-readable part exactly as written (so callers can insist on its case) and the data.
    /// - Throws: ``AgeError`` of kind `.invalidKey` naming what is wrong.
    static func decode(_ string: String) throws -> (hrp: String, data: [UInt8]) {
        let bytes = Array(string.utf8)
        var hasLower = false
        var hasUpper = false
        for byte in bytes {
            guard byte >= 33 && byte <= 126 else {
                throw AgeError(.invalidKey, "invalid Bech32 string: contains a character outside printable ASCII")
            }
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { hasLower = true }
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { hasUpper = true }
        }
        if hasLower && hasUpper {
            throw AgeError(.invalidKey, "invalid Bech32 string: mixes upper and lower case")
        }
        guard let separator = bytes.lastIndex(of: UInt8(ascii: "1")), separator >= 1,
            bytes.count - separator - 1 >= 6
        else {
            throw AgeError(.invalidKey, "invalid Bech32 string: no separator '1' followed by a 6-character checksum")
        }
        let hrp = Array(bytes[..<separator])
        let lowerHRP = hrp.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }
        var values: [UInt8] = []
        values.reserveCapacity(bytes.count - separator - 1)
        for (offset, byte) in bytes[(separator + 1)...].enumerated() {
            let lower = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            let value = charsetReverse[Int(lower)]
            guard value >= 0 else {
                // The position, not the character: the string may be a secret key.
                let position = separator + 2 + offset
                throw AgeError(
                    .invalidKey, "invalid Bech32 string: character \(position) is not a Bech32 data character"
                )
            }
            values.append(UInt8(value))
        }
        guard polymod(expand(lowerHRP) + values) == 1 else {
            throw AgeError(.invalidKey, "invalid Bech32 string: checksum mismatch (a typo or a truncated key?)")
        }
        guard let data = convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else {
            throw AgeError(.invalidKey, "invalid Bech32 string: non-zero or excess padding bits")
        }
        return (String(decoding: hrp, as: UTF8.self), data)
    }
}
