import Foundation
import Testing

@testable import Age

@Suite struct Bech32Tests {
    @Test(arguments: ["A12UEL5L", "a12uel5l", "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"])
    func validBIP173Strings(_ string: String) throws {
        let (hrp, data) = try Bech32.decode(string)
        #expect(Bech32.encode(hrp: hrp, data: data) == string)
    }

    @Test(arguments: [
        ("A1G7SGD8", "checksum"),  // checksum computed over the uppercase HRP
        ("a12uel5m", "checksum"),  // last character changed
        ("a12UEL5L", "mixes upper and lower case"),
        ("10a06t8", "separator"),  // empty human-readable part
        ("li1dgmt3", "separator"),  // checksum shorter than 6 characters
        ("x1b4n0q5v", "data character"),  // 'b' is not in the Bech32 alphabet
        ("de1lg7wt\u{7F}", "printable ASCII"),
        ("a1 qqqqqq", "printable ASCII"),
    ])
    func invalidStrings(_ string: String, reason: String) {
        #expect {
            try Bech32.decode(string)
        } throws: { error in
            let error = error as? AgeError
            return error?.kind == .invalidKey && error?.message.contains(reason) == true
        }
    }

    @Test(arguments: [
        ([UInt8]([31, 31]), "padding"),  // 10 bits: one byte 0xFF and two padding bits that are not zero
        ([0, 0, 0], "padding"),  // 15 bits: one byte and a whole spare 5-bit group
    ])
    func nonCanonicalPaddingIsRefused(_ values: [UInt8], reason: String) {
        let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        let checksum = Bech32Checksum.compute(hrp: "age", values: values)
        let string = "age1" + String((values + checksum).map { charset[Int($0)] })
        #expect {
            try Bech32.decode(string)
        } throws: { error in
            (error as? AgeError)?.message.contains(reason) == true
        }
    }

    @Test func roundTripsAllLengths() throws {
        for length in 0..<70 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let encoded = Bech32.encode(hrp: "age", data: data)
            let (hrp, decoded) = try Bech32.decode(encoded)
            #expect(hrp == "age")
            #expect(decoded == data)
        }
    }

    @Test func anyChangedCharacterBreaksTheChecksum() throws {
        let valid = X25519Identity.generate().recipient.description
        #expect(valid.count > 60)
        let characters = Array(valid)
        for index in 4..<characters.count {
            var altered = characters
            altered[index] = altered[index] == "q" ? "p" : "q"
            #expect(throws: AgeError.self) { try Bech32.decode(String(altered)) }
        }
    }

    @Test func longerThanNinetyCharacters() throws {
        let data = [UInt8](repeating: 0xA5, count: 64)
        let encoded = Bech32.encode(hrp: "age", data: data)
        #expect(encoded.count > 90)
        #expect(try Bech32.decode(encoded).data == data)
    }

    @Test func uppercaseHRPEncodesUppercase() throws {
        let encoded = Bech32.encode(hrp: "AGE-SECRET-KEY-", data: [UInt8](repeating: 7, count: 32))
        #expect(encoded == encoded.uppercased())
        #expect(encoded.hasPrefix("AGE-SECRET-KEY-1"))
        let (hrp, data) = try Bech32.decode(encoded)
        #expect(hrp == "AGE-SECRET-KEY-")
        #expect(data == [UInt8](repeating: 7, count: 32))
    }

    @Test func keysCheckTheirHumanReadablePartAndCase() throws {
        let identity = X25519Identity.generate()
        let recipient = identity.recipient.description
        #expect(try X25519Recipient(recipient) == identity.recipient)
        #expect(try X25519Identity(identity.encoded).encoded == identity.encoded)

        func kindAndMessage(_ body: () throws -> Void) -> AgeError? {
            do { try body() } catch { return error as? AgeError }
            return nil
        }
        let upper = kindAndMessage { _ = try X25519Recipient(recipient.uppercased()) }
        #expect(upper?.kind == .invalidKey && upper?.message.contains("lowercase") == true)
        let lower = kindAndMessage { _ = try X25519Identity(identity.encoded.lowercased()) }
        #expect(lower?.kind == .invalidKey && lower?.message.contains("uppercase") == true)
        let mixed = kindAndMessage { _ = try X25519Recipient("Age1" + recipient.dropFirst(4)) }
        #expect(mixed?.message.contains("mixes") == true)
        let wrongHRP = kindAndMessage {
            _ = try X25519Recipient(Bech32.encode(hrp: "agx", data: identity.recipient.publicKey))
        }
        #expect(wrongHRP?.message.contains("prefix") == true)
        let identityAsRecipient = kindAndMessage { _ = try X25519Recipient(identity.encoded) }
        #expect(identityAsRecipient?.kind == .invalidKey)
        let short = kindAndMessage { _ = try X25519Recipient(Bech32.encode(hrp: "age", data: [1, 2, 3])) }
        #expect(short?.message.contains("32 bytes") == true)
        let long = kindAndMessage {
            _ = try X25519Identity(Bech32.encode(hrp: "AGE-SECRET-KEY-", data: [UInt8](repeating: 1, count: 33)))
        }
        #expect(long?.message.contains("32 bytes") == true)
    }
}

/// An independent Bech32 checksum for building malformed test strings.
enum Bech32Checksum {
    static func compute(hrp: String, values: [UInt8]) -> [UInt8] {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var input: [UInt8] = hrp.utf8.map { $0 >> 5 } + [0] + hrp.utf8.map { $0 & 31 }
        input += values + [0, 0, 0, 0, 0, 0]
        var checksum: UInt32 = 1
        for value in input {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 {
                checksum ^= generator[index]
            }
        }
        checksum ^= 1
        return (0..<6).map { UInt8((checksum >> UInt32(5 * (5 - $0))) & 31) }
    }
}

@Suite struct Base64Tests {
    @Test func encodesWithoutPadding() {
        #expect(Base64.encode([UInt8]()) == "")
        #expect(Base64.encode([0]) == "AA")
        #expect(Base64.encode([0, 0]) == "AAA")
        #expect(Base64.encode([0, 0, 0]) == "AAAA")
        #expect(Base64.encode(Array("hello".utf8)) == "aGVsbG8")
    }

    @Test func matchesFoundationForAllSmallLengths() {
        for length in 0..<100 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 91 &+ 7) }
            var expected = Data(bytes).base64EncodedString()
            while expected.hasSuffix("=") { expected.removeLast() }
            #expect(Base64.encode(bytes) == expected)
            #expect(Base64.decode(expected) == bytes)
        }
    }

    @Test(arguments: [
        "AA==",  // padding
        "AAA=",  // padding
        "AB",  // non-zero trailing bits (canonical is "AA")
        "AAB",  // non-zero trailing bits (canonical is "AAA")
        "A",  // one character cannot encode a byte
        "AAAAA",
        "AA\r",  // CR, which lenient decoders skip
        "AA\n",
        "A A",
        "AA-_",  // URL-safe alphabet
        "AA.",
    ])
    func refusesNonCanonical(_ text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func decodesEmpty() {
        #expect(Base64.decode("") == [])
    }
}

@Suite struct StreamNonceTests {
    @Test func counterIsBigEndianAndLastByteIsTheFinalFlag() {
        #expect(Stream.nonceBytes(counter: 0, isFinal: false) == [UInt8](repeating: 0, count: 12))
        #expect(Stream.nonceBytes(counter: 0, isFinal: true) == [UInt8](repeating: 0, count: 11) + [1])
        #expect(Stream.nonceBytes(counter: 1, isFinal: false) == [UInt8](repeating: 0, count: 10) + [1, 0])
        #expect(Stream.nonceBytes(counter: 256, isFinal: true) == [UInt8](repeating: 0, count: 9) + [1, 0, 1])
        #expect(
            Stream.nonceBytes(counter: 0x0102_0304_0506_0708, isFinal: false)
                == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0]
        )
    }
}
