/// Decodes base64 text fed in pieces of any size, as Python's `base64.urlsafe_b64decode` reads a Fernet token: the
/// URL-safe alphabet (and the standard one's `+` and `/`), `=` padding only at the end, which may also be left out.
/// Whitespace is skipped (a token saved with a newline). Nothing is buffered beyond three characters.
struct Base64Stream {
    enum Problem: Error, Equatable {
        /// A byte that is not base64, at this offset of the text.
        case invalid(offset: Int64, byte: UInt8)
        /// Text after the `=` padding.
        case afterPadding(offset: Int64)
        /// One character left over: the text was cut.
        case dangling
    }

    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8.enumerated() {
            t[Int(c)] = UInt8(i)
        }
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63
        t[Int(UInt8(ascii: "+"))] = 62
        t[Int(UInt8(ascii: "/"))] = 63
        for c in [UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t")] { t[Int(c)] = 0xFE }
        return t
    }()

    private var quad: UInt32 = 0
    private var count = 0
    private var padded = false
    private var offset: Int64 = 0

    /// Decodes `text`, appending the bytes to `out`.
    mutating func decode(_ text: UnsafeRawBufferPointer, into out: inout [UInt8]) throws {
        let table = Self.table
        for c in text {
            let v = table[Int(c)]
            defer { offset += 1 }
            if v < 64 {
                if padded { throw Problem.afterPadding(offset: offset) }
                quad = quad << 6 | UInt32(v)
                count += 1
                if count == 4 {
                    out.append(UInt8(truncatingIfNeeded: quad >> 16))
                    out.append(UInt8(truncatingIfNeeded: quad >> 8))
                    out.append(UInt8(truncatingIfNeeded: quad))
                    quad = 0
                    count = 0
                }
            } else if v == 0xFE {
                continue
            } else if c == UInt8(ascii: "=") {
                if !padded { try flush(into: &out) }
                padded = true
            } else {
                throw Problem.invalid(offset: offset, byte: c)
            }
        }
    }

    /// Ends the text, emitting the bytes of an unpadded last group.
    mutating func finish(into out: inout [UInt8]) throws {
        if !padded { try flush(into: &out) }
    }

    /// Emits a partial group of 2 or 3 characters (1 or 2 bytes).
    private mutating func flush(into out: inout [UInt8]) throws {
        switch count {
        case 0: break
        case 1: throw Problem.dangling
        case 2: out.append(UInt8(truncatingIfNeeded: quad >> 4))
        default:
            out.append(UInt8(truncatingIfNeeded: quad >> 10))
            out.append(UInt8(truncatingIfNeeded: quad >> 2))
        }
        quad = 0
        count = 0
    }
}
