import Age
import Foundation

/// What one file's content became on the backend: one object, or several segments.
struct StoredContent: Sendable {
    var payload: PayloadCompression
    var encrypted: Bool
    var plaintextSize: Int64
    var plaintextSHA256: [UInt8]
    var formatID: String
    var objects: [StoredSegment]

    var storedSize: Int64 { objects.reduce(0) { $0 + $1.storedSize } }
}

/// One stored object of a content.
struct StoredSegment: Sendable {
    var name: ObjectName
    var storedSize: Int64
    var storedMD5: [UInt8]?
    var storedSHA256: [UInt8]
    var plaintextOffset: Int64
    var plaintextSize: Int64
}

/// Where an object's name comes from.
enum NameRequest: Sendable {
    /// A name chosen by the caller (catalog copies); the content must fit in one object.
    case fixed(ObjectName)
    case opaque
    case mirror(source: String, path: [UInt8], tag: String)
}

/// Turns file contents into objects on a backend and back, planning with the backend's capabilities:
/// segments when a file would exceed the largest object, a hashing pass first when the backend wants digests
/// before the upload (Baidu), deterministic regeneration for the second pass.
struct ObjectStore: Sendable {
    let backend: any RemoteBackend
    let namer: ObjectNamer
    let recipients: [X25519Recipient]
    let compression: CompressionMode

    /// Segments hold whole MiBs of plaintext.
    static let segmentGranularity = 1 << 20

    /// The largest plaintext one object may hold so its stored size stays under the backend's limits.
    /// Age adds 16 bytes per 64 KiB chunk and a header; deflate can expand incompressible data by a few bytes per
    /// block plus 18 bytes of framing per 1 MiB member: 0.1 % and 64 KiB of slack cover both with room to spare.
    func segmentPlaintextLimit() -> Int64? {
        let caps = backend.capabilities
        var limit = caps.maxObjectSize
        if let slice = caps.sliceSize, let count = caps.maxSlices {
            let sliced = Int64(slice) * Int64(count)
            limit = min(limit ?? sliced, sliced)
        }
        guard let limit else { return nil }
        let usable = Double(limit - 64 * 1024 - 256 * Int64(recipients.count)) / 1.001
        let units = Int64(usable) / Int64(Self.segmentGranularity)
        return max(Int64(Self.segmentGranularity), units * Int64(Self.segmentGranularity))
    }

    /// Stores the content of an open file.
    /// - Parameters:
    ///   - fd: the open file; read with `pread` only.
    ///   - size: its size when opened; the pipeline reads exactly this many bytes.
    ///   - fileName: the base name, for `auto` compression's type list.
    ///   - naming: how to name the objects.
    ///   - label: the path for messages.
    func store(fd: Int32, size: Int64, fileName: String, naming: NameRequest, label: String) async throws
        -> StoredContent
    {
        let payload = try decidePayload(fd: fd, size: size, fileName: fileName, label: label)
        let mode: CompressionMode = if case .gzip(let level) = payload { .level(level) } else { .off }
        let segmentLimit = segmentPlaintextLimit() ?? max(size, 1)
        let segmentCount = size == 0 ? 1 : Int((size + segmentLimit - 1) / segmentLimit)
        var stored: [StoredSegment] = []
        var formatID = ""
        do {
            for index in 0..<segmentCount {
                let offset = Int64(index) * segmentLimit
                let length = min(segmentLimit, size - offset)
                let suffix = payload.suffix(encrypted: !recipients.isEmpty)
                let name: ObjectName
                switch naming {
                case .fixed(let fixed):
                    guard segmentCount == 1 else {
                        throw ArchiverError(.internalError, "\(label) is too large for one object on this backend")
                    }
                    name = fixed
                case .opaque:
                    name = namer.opaque(suffix: suffix)
                case .mirror(let source, let path, let tag):
                    let segmentTag = segmentCount > 1 ? "\(tag).part\(index + 1)" : tag
                    name = namer.mirror(source: source, path: path, tag: segmentTag, suffix: suffix)
                }
                let (segment, result) = try await storeSegment(
                    fd: fd, offset: offset, length: length, mode: mode, fileName: fileName, name: name, label: label)
                stored.append(segment)
                formatID = result.formatID
                if segmentCount == 1 {
                    return StoredContent(
                        payload: payload, encrypted: result.encrypted, plaintextSize: result.plaintextSize,
                        plaintextSHA256: result.plaintextSHA256, formatID: formatID, objects: stored)
                }
            }
        } catch {
            for segment in stored { try? await backend.delete(segment.name) }
            throw error
        }
        // Several segments: the content's plaintext hash covers the whole file; compute it in one more pass
        // only here (files larger than the backend's object limit are rare and the pass is cheap beside the upload).
        let digest = try await BlockingWork.sha256(fd: fd, length: size, label: label)
        return StoredContent(
            payload: payload, encrypted: !recipients.isEmpty, plaintextSize: size, plaintextSHA256: digest,
            formatID: formatID, objects: stored)
    }

    /// Applies the compression mode once per file (segments must agree), probing the first MiB for `auto`.
    private func decidePayload(fd: Int32, size: Int64, fileName: String, label: String) throws -> PayloadCompression {
        var probe = [UInt8](repeating: 0, count: Int(min(size, Int64(ObjectPipeline.probeSize))))
        let n = try probe.withUnsafeMutableBytes {
            try FileRangeSource(fd: fd, offset: 0, length: Int64($0.count), label: label).readFull(into: $0)
        }
        return try probe.withUnsafeBytes {
            try ObjectPipeline.decideCompression(
                compression, fileName: fileName, firstBlock: UnsafeRawBufferPointer(rebasing: $0[0..<n]))
        }
    }

    private func storeSegment(
        fd: Int32, offset: Int64, length: Int64, mode: CompressionMode, fileName: String, name: ObjectName,
        label: String
    ) async throws -> (StoredSegment, EncodedObject) {
        let caps = backend.capabilities
        var options = EncodeOptions(recipients: recipients, compression: mode)
        options.fileName = fileName
        var digests: UploadDigests?
        if caps.needsDigestsBeforeUpload {
            // Pass 1: hashes only, from a fresh per-object secret, so pass 2 regenerates identical bytes.
            options.secret = .random()
            options.digests = .baidu
            options.sliceSize = caps.sliceSize ?? 4 << 20
            let first = options
            let pass1 = try await BlockingWork.run("archiver.hash-pass") {
                try ObjectPipeline.encode(
                    from: FileRangeSource(fd: fd, offset: offset, length: length, label: label), to: DiscardSink(),
                    options: first)
            }
            options.expectedFormatID = pass1.formatID
            digests = UploadDigests(
                size: pass1.storedSize, md5: pass1.storedMD5 ?? [], headMD5: pass1.headMD5 ?? [],
                sliceMD5s: pass1.sliceMD5s)
        } else {
            options.digests = [.sha256]
        }
        let writer = try await backend.openWriter(for: name, size: digests?.size, digests: digests)
        let pass = options
        do {
            let result = try await BlockingWork.run("archiver.store") {
                try ObjectPipeline.encode(
                    from: FileRangeSource(fd: fd, offset: offset, length: length, label: label), to: writer,
                    options: pass)
            }
            if let digests, result.storedMD5 != digests.md5 || result.sliceMD5s != digests.sliceMD5s {
                throw ArchiverError(.sourceChanged, "the file changed between the hashing pass and the upload", subject: label)
            }
            guard result.plaintextSize == length else {
                throw ArchiverError(.sourceChanged, "the file changed size while it was read", subject: label)
            }
            let info = try await writer.commit()
            let segment = StoredSegment(
                name: name, storedSize: info.size, storedMD5: result.storedMD5,
                storedSHA256: result.storedSHA256 ?? [], plaintextOffset: offset, plaintextSize: length)
            return (segment, result)
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// Streams a stored content's plaintext into `sink`, segment after segment, checking every chunk, each
    /// segment's size and the whole plaintext's SHA-256.
    /// - Parameters:
    ///   - objects: the content's objects, in segment order.
    ///   - payload: how the payload is compressed.
    ///   - plaintextSHA256: the content's recorded hash.
    ///   - identities: identities for encrypted objects, or empty.
    ///   - sink: receives the plaintext.
    func load(
        objects: [(name: ObjectName, plaintextSize: Int64)], payload: PayloadCompression, encrypted: Bool,
        plaintextSHA256: [UInt8]?, identities: [any AgeIdentity], into sink: any ByteSink
    ) async throws {
        let hashing = HashingSink(sink)
        for object in objects {
            let reader = try await backend.openReader(for: object.name, range: nil)
            var options = DecodeOptions(identities: encrypted ? identities : [], compression: payload)
            options.expectedSize = object.plaintextSize >= 0 ? object.plaintextSize : nil
            let decodeOptions = options
            do {
                _ = try await BlockingWork.run("archiver.load") {
                    try ObjectPipeline.decode(from: reader, to: hashing, options: decodeOptions)
                }
                await reader.close()
            } catch var error as ArchiverError {
                await reader.close()
                if error.subject == nil { error.subject = "object \(object.name)" }
                throw error
            } catch {
                await reader.close()
                throw error
            }
        }
        guard plaintextSHA256 == nil || hashing.digest() == plaintextSHA256 else {
            throw ArchiverError(.integrity, "the restored content does not match its recorded SHA-256")
        }
    }

    /// Stores an open file under a fixed name (catalog copies).
    func storeNamed(fd: Int32, size: Int64, name: ObjectName, label: String) async throws -> StoredContent {
        try await store(fd: fd, size: size, fileName: name.value, naming: .fixed(name), label: label)
    }

    /// Reads one object whose plaintext size and hash are not recorded (catalog copies, which carry a MAC).
    func loadUnchecked(name: ObjectName, payload: PayloadCompression, identities: [any AgeIdentity], into sink: any ByteSink)
        async throws
    {
        try await load(
            objects: [(name, -1)], payload: payload, encrypted: true, plaintextSHA256: nil, identities: identities,
            into: sink)
    }
}
