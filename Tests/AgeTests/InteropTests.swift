import Age
import ArchiverTestSupport
import Foundation
import Testing

/// Round trips with the reference implementation's command-line tools, `age` and `age-keygen`.
@Suite struct InteropTests {
    static let age = "/usr/bin/age"
    static let ageKeygen = "/usr/bin/age-keygen"

    /// Whether the tools are installed; records an issue in CI when they are not.
    static func toolsAvailable() -> Bool {
        let present =
            FileManager.default.isExecutableFile(atPath: age)
            && FileManager.default.isExecutableFile(atPath: ageKeygen)
        if !present {
            if TestData.isCI {
                Issue.record("\(age) and \(ageKeygen) are required in CI (apt-get install age)")
            } else {
                print("Interop: skipped, \(age) or \(ageKeygen) is not installed (apt-get install age)")
            }
        }
        return present
    }

    struct ToolError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs a tool and returns its standard output.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self)
            throw ToolError(description: "\(tool) \(arguments.joined(separator: " ")) failed: \(message)")
        }
        return output
    }

    /// A fresh temporary folder holding an age-keygen identity file.
    static func makeKeyFolder() throws -> (folder: URL, keyFile: URL) {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("age-interop-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let keyFile = folder.appendingPathComponent("key.txt")
        try run(ageKeygen, ["-o", keyFile.path])
        return (folder, keyFile)
    }

    /// Decrypts with AgeDecryptor, feeding odd-sized pieces.
    static func decryptStreaming(_ file: [UInt8], with identities: [any AgeIdentity]) throws -> [UInt8] {
        var decryptor = AgeDecryptor(identities: identities)
        var plaintext: [UInt8] = []
        try file.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let end = min(offset + 7919, all.count)
                try decryptor.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) {
                    plaintext.appendBytes($0)
                }
                offset = end
            }
        }
        try decryptor.finish { plaintext.appendBytes($0) }
        return plaintext
    }

    @Test func identityFileFromAgeKeygen() throws {
        guard Self.toolsAvailable() else { return }
        let (folder, keyFile) = try Self.makeKeyFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let identities = try Age.parseIdentityFile(String(contentsOf: keyFile, encoding: .utf8))
        #expect(identities.count == 1)
        let recipientLine = try Self.run(Self.ageKeygen, ["-y", keyFile.path])
        let recipient = String(decoding: recipientLine, as: UTF8.self).trimmingCharacters(in: .newlines)
        #expect(identities.first?.recipient.description == recipient)
        #expect(try X25519Recipient(recipient) == identities.first?.recipient)
    }

    @Test(arguments: [0, 1, 65535, 65536, 65537, 10 * 1024 * 1024 + 1])
    func ageEncryptsWeDecrypt(size: Int) throws {
        guard Self.toolsAvailable() else { return }
        let (folder, keyFile) = try Self.makeKeyFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let identities = try Age.parseIdentityFile(String(contentsOf: keyFile, encoding: .utf8))
        let plaintext = pseudoRandomBytes(size, seed: UInt64(size) &+ 99)
        let plainFile = folder.appendingPathComponent("plain")
        let ageFile = folder.appendingPathComponent("plain.age")
        try Data(plaintext).write(to: plainFile)
        try Self.run(Self.age, ["-r", identities[0].recipient.description, "-o", ageFile.path, plainFile.path])
        let encrypted = try [UInt8](Data(contentsOf: ageFile))
        #expect(try Self.decryptStreaming(encrypted, with: identities) == plaintext)
    }

    @Test(arguments: [0, 1, 65535, 65536, 65537, 10 * 1024 * 1024 + 1])
    func weEncryptAgeDecrypts(size: Int) throws {
        guard Self.toolsAvailable() else { return }
        let (folder, keyFile) = try Self.makeKeyFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let identities = try Age.parseIdentityFile(String(contentsOf: keyFile, encoding: .utf8))
        let plaintext = pseudoRandomBytes(size, seed: UInt64(size) &+ 7)
        // Two recipients, ours first, so age has to skip a stanza that is not for it.
        let encrypted = try Age.encrypt(plaintext, to: [X25519Identity.generate().recipient, identities[0].recipient])
        let ageFile = folder.appendingPathComponent("ours.age")
        try Data(encrypted).write(to: ageFile)
        // Standard output rather than -o: age creates the output file only once it has a byte to write.
        let decrypted = try Self.run(Self.age, ["-d", "-i", keyFile.path, ageFile.path])
        #expect([UInt8](decrypted) == plaintext)
    }
}
