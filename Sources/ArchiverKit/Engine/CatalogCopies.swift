public import Age
public import Crypto
import Foundation

/// Keeps encrypted copies of the catalog on the target, so a lost NAS does not lose the map to the backups.
///
/// After a run that stored something, a consistent copy (SQLite's backup API) is gzipped, encrypted to the
/// recipients and stored as `<id>/catalog/<UTC time>.sqlite.gz.age`, with `….mac` beside it: an HMAC-SHA-256 of
/// the copy under a key derived from the identity. Someone who knows only the public recipient can make a valid
/// age file, but not a valid MAC, so a planted catalog is refused. The last 7 copies are kept.
public struct CatalogCopies: Sendable {
    let backend: any RemoteBackend
    let repositoryID: String
    let namer: ObjectNamer

    /// Copies kept on the target.
    public static let kept = 7
    static let suffix = ".sqlite.gz.age"

    /// Prepares copy handling for one target.
    public init(backend: any RemoteBackend, repositoryID: String) {
        self.backend = backend
        self.repositoryID = repositoryID
        self.namer = ObjectNamer(repositoryID: repositoryID, capabilities: backend.capabilities)
    }

    /// The MAC key for an identity: only whoever holds the identity (or this derived key) can make one.
    /// - Parameter identity: the repository's identity.
    public static func macKey(for identity: X25519Identity) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(identity.encoded.utf8)), salt: [UInt8](),
            info: Array("archiver.v1 catalog copy mac".utf8), outputByteCount: 32)
    }

    /// Where the derived MAC key is kept beside a catalog.
    public static func macKeyPath(catalog: String) -> String { catalog + ".mac-key" }

    /// Writes the MAC key file (hex, mode 0600), replacing an older one atomically.
    public static func writeMACKey(_ key: SymmetricKey, catalog: String) throws {
        let path = macKeyPath(catalog: catalog)
        let hex = key.withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() } + "\n"
        let temp = path + ".tmp"
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArchiverError.posix("cannot write the catalog MAC key", path: path) }
        let sink = FileDescriptorSink(fd: fd, label: path, closeWhenDone: true)
        try Array(hex.utf8).withUnsafeBytes { try sink.write($0) }
        try sink.sync()
        guard rename(temp, path) == 0 else { throw ArchiverError.posix("cannot write the catalog MAC key", path: path) }
    }

    /// Reads the MAC key file, or nil when there is none.
    public static func readMACKey(catalog: String) throws -> SymmetricKey? {
        let path = macKeyPath(catalog: catalog)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let text = try KeyFiles.readSmallTextFile(path, what: "catalog MAC key").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count == 64, let bytes = Self.unhex(text) else {
            throw ArchiverError(.key, "the catalog MAC key is not 64 hex digits; derive it again with `archiver key mac-key`", subject: path)
        }
        return SymmetricKey(data: bytes)
    }

    /// Uploads a copy of `catalog`, then removes copies beyond the newest 7.
    /// - Parameters:
    ///   - catalog: the catalog.
    ///   - recipients: who may decrypt it (the same recipients as the data).
    ///   - macKey: the MAC key.
    ///   - scratch: a folder for the temporary copy.
    /// - Returns: the copy's object name.
    public func upload(catalog: Catalog, recipients: [X25519Recipient], macKey: SymmetricKey, scratch: String) async throws
        -> ObjectName
    {
        let temp = (scratch as NSString).appendingPathComponent(".archiver-catalog-copy-\(ObjectNamer.randomHex(6)).sqlite")
        defer { unlink(temp) }
        try catalog.writeConsistentCopy(to: temp)
        let mac = try mac(ofFile: temp, key: macKey)
        let name = namer.catalogCopy(time: Date(), suffix: Self.suffix)
        let store = ObjectStore(backend: backend, namer: namer, recipients: recipients, compression: .level(6))
        let fd = open(temp, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ArchiverError.posix("cannot read the catalog copy", path: temp) }
        defer { close(fd) }
        var size = stat()
        fstat(fd, &size)
        _ = try await store.storeNamed(fd: fd, size: Int64(size.st_size), name: name, label: "catalog copy")
        try await putSmall(try ObjectName(name.value + ".mac"), Array((mac.map { String(format: "%02x", $0) }.joined() + "\n").utf8))
        try await putRecoveryNoteIfMissing()
        try await prune()
        return name
    }

    /// Finds the newest copy whose MAC verifies, decrypts it to `destination` and opens it as an untrusted catalog.
    /// - Parameters:
    ///   - identities: identities that decrypt the copies; the first also gives the MAC key.
    ///   - destination: where to write the recovered SQLite file.
    /// - Returns: the opened catalog and the copy's name.
    /// - Throws: `ArchiverError(.catalog)` when no valid copy exists, listing why each was refused.
    public func recover(identity: X25519Identity, to destination: String) async throws -> (Catalog, ObjectName) {
        let key = Self.macKey(for: identity)
        var reasons: [String] = []
        for name in try await copyNames().reversed() {
            do {
                let macText = try await fetchSmall(try ObjectName(name.value + ".mac"))
                guard let mac = Self.unhex(String(decoding: macText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                else { throw ArchiverError(.integrity, "its MAC file is malformed") }
                unlink(destination)
                let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw ArchiverError.posix("cannot write", path: destination) }
                let sink = FileDescriptorSink(fd: fd, label: destination, closeWhenDone: true)
                let store = ObjectStore(backend: backend, namer: namer, recipients: [], compression: .off)
                try await store.loadUnchecked(name: name, payload: .gzip(level: 0), identities: [identity], into: sink)
                try sink.sync()
                guard try self.mac(ofFile: destination, key: key) == mac else {
                    throw ArchiverError(.integrity, "its MAC does not verify: it was not made with this repository's identity")
                }
                return (try Catalog.openUntrusted(path: destination), name)
            } catch {
                unlink(destination)
                reasons.append("\(name): \((error as? ArchiverError)?.message ?? "\(error)")")
            }
        }
        throw ArchiverError(
            .catalog,
            reasons.isEmpty
                ? "the target holds no catalog copy under \(namer.catalogPrefix)"
                : "no catalog copy could be used:\n  " + reasons.joined(separator: "\n  "))
    }

    /// The copies on the target, oldest first.
    func copyNames() async throws -> [ObjectName] {
        var names: [ObjectName] = []
        var cursor: String?
        repeat {
            let page = try await backend.list(prefix: namer.catalogPrefix, cursor: cursor, limit: 1000)
            names += page.objects.map(\.name).filter { $0.value.hasSuffix(Self.suffix) }
            cursor = page.nextCursor
        } while cursor != nil
        return names.sorted()
    }

    private func prune() async throws {
        let names = try await copyNames()
        for name in names.dropLast(Self.kept) {
            try await backend.delete(name)
            try await backend.delete(try ObjectName(name.value + ".mac"))
        }
    }

    private func mac(ofFile path: String, key: SymmetricKey) throws -> [UInt8] {
        var hmac = HMAC<SHA256>(key: key)
        hmac.update(data: Array("archiver catalog copy v1\n\(repositoryID)\n".utf8))
        let source = try FileDescriptorSource(path: path)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try source.readFull(into: $0) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hmac.update(data: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return Array(hmac.finalize())
    }

    private func putSmall(_ name: ObjectName, _ bytes: [UInt8]) async throws {
        let caps = backend.capabilities
        let digests = caps.needsDigestsBeforeUpload ? UploadDigests(of: bytes, sliceSize: caps.sliceSize ?? 4 << 20) : nil
        let writer = try await backend.openWriter(for: name, size: Int64(bytes.count), digests: digests)
        do {
            try bytes.withUnsafeBytes { try writer.write($0) }
            _ = try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }

    private func fetchSmall(_ name: ObjectName) async throws -> [UInt8] {
        let reader = try await backend.openReader(for: name, range: nil)
        defer { Task { await reader.close() } }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = try buffer.withUnsafeMutableBytes { try reader.readFull(into: $0) }
        return Array(buffer[0..<n])
    }

    private func putRecoveryNoteIfMissing() async throws {
        let name = try ObjectName(namer.catalogPrefix + "RECOVERY.txt")
        guard try await backend.stat(name) == nil else { return }
        try await putSmall(name, Array(Self.recoveryNote(repositoryID: repositoryID).utf8))
    }

    static func recoveryNote(repositoryID: String) -> String {
        """
        archiver repository \(repositoryID): how to recover files without archiver
        =====================================================================

        You need the age identity (key.txt, AGE-SECRET-KEY-1...) and the stock tools age, gunzip and sqlite3.

        1. The newest catalog copy is the last *.sqlite.gz.age file in this folder (names sort by UTC time):
             age -d -i key.txt catalog/<time>.sqlite.gz.age | gunzip > catalog.sqlite

        2. Find a file's object(s). Paths are stored as bytes; `display` is readable text:
             sqlite3 catalog.sqlite "SELECT v.display, o.segment, o.name, c.compression, c.encrypted
               FROM versions v JOIN contents c ON c.id = v.content_id JOIN objects o ON o.content_id = c.id
               WHERE v.display LIKE '%holiday.mp4' AND v.end_run IS NULL ORDER BY o.segment;"
           (drop `AND v.end_run IS NULL` to see older versions too).

        3. Restore it. Objects ending in .gz.age are gzip inside age; .age is age alone:
             age -d -i key.txt <object>.gz.age | gunzip > holiday.mp4
           A file stored in several segments: decrypt each segment in order and concatenate the outputs.

        Every object is a standard age v1 file (https://age-encryption.org/v1); see docs/format.md in the
        archiver sources for the exact format.
        """
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            guard let byte = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            i += 2
        }
        return out
    }
}
