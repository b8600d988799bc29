import ArchiverKit
import ArchiverTestSupport
import Foundation
import Testing

/// encrypt2bdy's two `.e2bdy` formats, made by the Python libraries it used (`make_e2bdy.py`), decoded by
/// `FernetDecoder` and `AESCryptDecoder`: every size round-trips, and each kind of damage is reported as the
/// error a user can act on.
@Suite struct E2bdyDecoderTests {
    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: try E2bdyFiles.folder().appendingPathComponent(name)))
    }

    static func path(_ name: String) throws -> String { try E2bdyFiles.folder().appendingPathComponent(name).path }

    static func fernet(_ input: [UInt8], key: String = "encrypt.key") throws -> [UInt8] {
        let sink = MemorySink()
        let count = try FernetDecoder.decode(
            from: MemorySource(input), to: sink, key: try FernetKey.read(try path(key)), file: "test.e2bdy")
        #expect(count == Int64(sink.bytes.count))
        return sink.bytes
    }

    static func aes(_ input: [UInt8], passphrase: String = "correct horse battery staple") throws -> [UInt8] {
        let sink = MemorySink()
        let count = try AESCryptDecoder.decode(
            from: MemorySource(input), to: sink, passphrase: passphrase, file: "test.e2bdy")
        #expect(count == Int64(sink.bytes.count))
        return sink.bytes
    }

    /// The code of the `ArchiverError` thrown, and its message.
    static func failure(_ body: () throws -> [UInt8]) -> (code: ArchiverError.Code?, message: String) {
        do {
            _ = try body()
            return (nil, "no error")
        } catch let error as ArchiverError {
            return (error.code, error.message)
        } catch {
            return (nil, "\(error)")
        }
    }

    @Test(arguments: E2bdyFiles.names)
    func fernetFilesRoundTrip(name: String) throws {
        #expect(try Self.fernet(Self.bytes("\(name).fernet.e2bdy")) == Self.bytes("\(name).bin"))
    }

    @Test(arguments: E2bdyFiles.names)
    func aesCryptFilesRoundTrip(name: String) throws {
        #expect(try Self.aes(Self.bytes("\(name).aes.e2bdy")) == Self.bytes("\(name).bin"))
    }

    @Test func aesCryptNonASCIIPassphrase() throws {
        // UTF-16LE of CJK, Latin-1 and an astral emoji (a surrogate pair), as pyAesCrypt encodes it.
        let decoded = try Self.aes(Self.bytes("text-nonascii.aes.e2bdy"), passphrase: "密码 pässwörd 🔑")
        #expect(decoded == (try Self.bytes("text.bin")))
    }

    @Test func committedFixturesStillDecode() throws {
        let folder = E2bdyFiles.fixtures()
        let plain = [UInt8](try Data(contentsOf: folder.appendingPathComponent("fixture.txt")))
        let key = try FernetKey.read(folder.appendingPathComponent("fixture.key").path)
        let fernet = MemorySink()
        try FernetDecoder.decode(
            from: try FileDescriptorSource(path: folder.appendingPathComponent("fixture.fernet.e2bdy").path),
            to: fernet, key: key, file: "fixture.fernet.e2bdy")
        #expect(fernet.bytes == plain)
        let aes = MemorySink()
        try AESCryptDecoder.decode(
            from: try FileDescriptorSource(path: folder.appendingPathComponent("fixture.aes.e2bdy").path),
            to: aes, passphrase: "密码 pässwörd 🔑", file: "fixture.aes.e2bdy")
        #expect(aes.bytes == plain)
    }

    @Test func fernetTokenWithoutPaddingOrWithANewlineStillDecodes() throws {
        var token = try Self.bytes("text.fernet.e2bdy")
        let plain = try Self.bytes("text.bin")
        #expect(try Self.fernet(token + Array("\n".utf8)) == plain)
        while token.last == UInt8(ascii: "=") { token.removeLast() }
        #expect(try Self.fernet(token) == plain)
    }

    @Test func wrongKeyOrPassphrase() throws {
        let fernet = Self.failure { try Self.fernet(Self.bytes("text.fernet.e2bdy"), key: "other.key") }
        #expect(fernet.code == .integrity)
        #expect(fernet.message.contains("encrypt.key"), "\(fernet.message)")
        let aes = Self.failure { try Self.aes(Self.bytes("text.aes.e2bdy"), passphrase: "not the passphrase") }
        #expect(aes.code == .key)
        #expect(aes.message.contains("wrong passphrase"), "\(aes.message)")
    }

    /// A flipped base64 character, in the header (timestamp/IV), the ciphertext, and the HMAC.
    @Test(arguments: [3, 20, 700, -3])
    func fernetFlippedCharacterFailsAuthentication(offset: Int) throws {
        var token = try Self.bytes("text.fernet.e2bdy")
        while token.last == UInt8(ascii: "=") { token.removeLast() }
        let at = offset >= 0 ? offset : token.count + offset
        token[at] = token[at] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let result = Self.failure { try Self.fernet(token) }
        #expect(result.code == .integrity, "\(result.message)")
    }

    /// Header bytes (IV1, wrapped key, its HMAC) fail the passphrase check; data, its HMAC and the size byte fail
    /// as tampering.
    @Test(arguments: [
        (170, ArchiverError.Code.key), (200, .key), (260, .key), (600, .integrity), (-33, .integrity),
        (-1, .integrity),
    ])
    func aesCryptFlippedByte(offset: Int, expected: ArchiverError.Code) throws {
        var file = try Self.bytes("text.aes.e2bdy")
        let at = offset >= 0 ? offset : file.count + offset
        file[at] ^= 0x01
        let result = Self.failure { try Self.aes(file) }
        #expect(result.code == expected, "\(result.message)")
    }

    @Test(arguments: [1, 2, 3, 4, 33, 700])
    func fernetTruncated(cut: Int) throws {
        var token = try Self.bytes("text.fernet.e2bdy")
        while token.last == UInt8(ascii: "=") { token.removeLast() }
        let result = Self.failure { try Self.fernet(Array(token.dropLast(cut))) }
        #expect(result.code == .integrity, "\(result.message)")
    }

    @Test(arguments: [1, 16, 33, 34, 500, 1200, 1300])
    func aesCryptTruncated(cut: Int) throws {
        let file = try Self.bytes("text.aes.e2bdy")
        let result = Self.failure { try Self.aes(Array(file.dropLast(cut))) }
        #expect(result.code == .integrity, "\(result.message)")
        #expect(result.message.contains("truncated") || result.message.contains("HMAC"), "\(result.message)")
    }

    @Test func emptyInputIsTruncated() throws {
        #expect(Self.failure { try Self.fernet([]) }.code == .integrity)
        #expect(Self.failure { try Self.aes([]) }.code == .integrity)
    }

    @Test func otherFilesAreNotThisFormatAndTheOtherFormatIsNamed() throws {
        let plain = Self.failure { try Self.fernet(Self.bytes("text.bin")) }
        #expect(plain.code == .usage, "\(plain.message)")
        let aesAsFernet = Self.failure { try Self.fernet(Self.bytes("text.aes.e2bdy")) }
        #expect(aesAsFernet.code == .usage)
        #expect(aesAsFernet.message.contains("--aescrypt-passphrase-file"), "\(aesAsFernet.message)")
        let fernetAsAES = Self.failure { try Self.aes(Self.bytes("text.fernet.e2bdy")) }
        #expect(fernetAsAES.code == .usage)
        #expect(fernetAsAES.message.contains("--fernet-key"), "\(fernetAsAES.message)")
        #expect(E2bdyFormat.sniff(try Self.bytes("small.aes.e2bdy").prefix(5)) == .aesCrypt)
        #expect(E2bdyFormat.sniff(try Self.bytes("small.fernet.e2bdy").prefix(5)) == .fernet)
    }

    @Test func aesCryptVersion3IsRefusedByName() throws {
        var file = try Self.bytes("text.aes.e2bdy")
        file[3] = 3
        let result = Self.failure { try Self.aes(file) }
        #expect(result.code == .usage)
        #expect(result.message.contains("version 3"), "\(result.message)")
    }

    @Test func malformedFernetKeyIsAKeyError() throws {
        #expect(throws: ArchiverError.self) { try FernetKey(text: "not a key", file: "encrypt.key") }
        let error = try #require(throws: ArchiverError.self) { try FernetKey(text: "c2hvcnQ=", file: "encrypt.key") }
        #expect(error.code == .key)
    }
}
