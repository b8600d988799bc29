public import Age
public import Foundation

/// Reading and writing key material: identity files in `age-keygen`'s format and recipient lists.
public enum KeyFiles {
    /// Reads the identities in an identity file (`age-keygen` output works unchanged).
    /// - Parameter path: the file.
    /// - Returns: its identities.
    /// - Throws: `ArchiverError(.key)` naming the file and line when it cannot be read or parsed.
    public static func identities(at path: String) throws -> [X25519Identity] {
        let text = try readSmallTextFile(path, what: "identity file")
        do {
            return try Age.parseIdentityFile(text)
        } catch let error as AgeError {
            throw ArchiverError(.key, error.message, subject: path, cause: error)
        }
    }

    /// Parses recipients given as `age1…` strings and reads any recipients files (one per line, `#` comments).
    /// - Parameters:
    ///   - strings: recipients as written.
    ///   - files: recipients files.
    /// - Returns: the recipients, duplicates removed, in order.
    /// - Throws: `ArchiverError(.key)` naming the bad recipient and where it came from.
    public static func recipients(_ strings: [String], files: [String] = []) throws -> [X25519Recipient] {
        var result: [X25519Recipient] = []
        func add(_ text: String, from place: String) throws {
            do {
                let recipient = try X25519Recipient(text)
                if !result.contains(recipient) { result.append(recipient) }
            } catch let error as AgeError {
                throw ArchiverError(.key, "recipient '\(text)' (\(place)) is not valid: \(error.message)", cause: error)
            }
        }
        for text in strings { try add(text.trimmingCharacters(in: .whitespaces), from: "argument") }
        for file in files {
            let text = try readSmallTextFile(file, what: "recipients file")
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                try add(trimmed, from: "\(file) line \(index + 1)")
            }
        }
        return result
    }

    /// Writes a new identity in `age-keygen`'s format, mode 0600, refusing to replace an existing file.
    /// - Parameters:
    ///   - identity: the identity to write.
    ///   - path: where.
    ///   - now: the creation time written in the comment.
    /// - Throws: `ArchiverError(.usage)` when the file exists, `.io` when it cannot be written.
    public static func writeIdentity(_ identity: X25519Identity, to path: String, now: Date = Date()) throws {
        let created = UTCStamp.iso8601(now)
        let text = "# created: \(created)\n# public key: \(identity.recipient)\n\(identity.encoded)\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST {
                throw ArchiverError(.usage, "\(path) already exists; an identity file is never overwritten")
            }
            throw ArchiverError.posix("cannot create the identity file", path: path)
        }
        let sink = FileDescriptorSink(fd: fd, label: path, closeWhenDone: true)
        do {
            try Array(text.utf8).withUnsafeBytes { try sink.write($0) }
            try sink.sync()
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Reads a small text file (a key, passphrase or recipients file), refusing anything implausibly large.
    /// - Parameters:
    ///   - path: the file.
    ///   - what: what it is, for messages.
    /// - Throws: `ArchiverError` when it cannot be read, is over 1 MiB or is not UTF-8.
    public static func readSmallTextFile(_ path: String, what: String) throws -> String {
        let source = try FileDescriptorSource(path: path)
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        let n = try bytes.withUnsafeMutableBytes { try source.readFull(into: $0) }
        guard n < bytes.count else { throw ArchiverError(.key, "the \(what) is larger than 1 MiB; is it the right file?", subject: path) }
        guard let text = String(validating: bytes[0..<n], as: UTF8.self) else {
            throw ArchiverError(.key, "the \(what) is not UTF-8 text", subject: path)
        }
        return text
    }
}
