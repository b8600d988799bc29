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

/// Where the pending uploads of one file are recorded: the catalog rows that let a killed run resume them.
struct UploadLedger: Sendable {
    let catalog: Catalog
    let repositoryID: String
    let source: String
    let path: [UInt8]
    /// The file's size, mtime, ctime and inode as text; a plan is resumed only for the same fingerprint.
    let fingerprint: String
    /// The recipients, sorted and joined by newlines.
    let recipients: String

    func find(segment: Int) throws -> PendingUpload? {
        try catalog.pendingUpload(repositoryID: repositoryID, source: source, path: path, segment: segment)
    }

    func save(_ plan: PendingUpload) throws { try catalog.savePendingUpload(plan) }

    func checkpoint(segment: Int, state: String) throws {
        try catalog.checkpointPendingUpload(
            repositoryID: repositoryID, source: source, path: path, segment: segment, checkpoint: state)
    }

    func erase(segment: Int) throws {
        try catalog.erasePendingUploads(repositoryID: repositoryID, source: source, path: path, segment: segment)
    }

    func eraseAll() throws {
        try catalog.erasePendingUploads(repositoryID: repositoryID, source: source, path: path)
    }
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
    /// Counts and paces the bytes of uploads (progress and `limits:`); nil for neither.
    var meter: TransferMeter? = nil

    /// Segments hold whole MiBs of plaintext (whole 64 KiB units under small limits).
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
        // Whole MiBs, or whole 64 KiB units when the limit is so small (tests, tiny tiers) that a MiB would not fit.
        let granularity = Int64(usable) >= Int64(Self.segmentGranularity) ? Int64(Self.segmentGranularity) : 64 * 1024
        return max(granularity, Int64(usable) / granularity * granularity)
    }

    /// Stores the content of an open file.
    /// - Parameters:
    ///   - fd: the open file; read with `pread` only.
    ///   - size: its size when opened; the pipeline reads exactly this many bytes.
    ///   - fileName: the base name, for `auto` compression's type list.
    ///   - naming: how to name the objects.
    ///   - label: the path for messages.
    ///   - ledger: where pending uploads of this file are recorded, for backends that want digests first.
    func store(
        fd: Int32, size: Int64, fileName: String, naming: NameRequest, label: String, ledger: UploadLedger? = nil
    ) async throws -> StoredContent {
        let payload = try decidePayload(fd: fd, size: size, fileName: fileName, label: label)
        let mode = CompressionMode(always: payload)
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
                // A second name for the same segment, for when the backend finds the first taken by other bytes.
                let rename: (() -> ObjectName)?
                switch naming {
                case .fixed(let fixed):
                    guard segmentCount == 1 else {
                        throw ArchiverError(.internalError, "\(label) is too large for one object on this backend")
                    }
                    name = fixed
                    rename = nil
                case .opaque:
                    name = namer.opaque(suffix: suffix)
                    rename = { [namer] in namer.opaque(suffix: suffix) }
                case .mirror(let source, let path, let tag):
                    let segmentTag = segmentCount > 1 ? "\(tag).part\(index + 1)" : tag
                    name = namer.mirror(source: source, path: path, tag: segmentTag, suffix: suffix)
                    rename = { [namer] in
                        namer.mirror(
                            source: source, path: path, tag: "\(segmentTag)-\(ObjectNamer.randomHex(3))", suffix: suffix)
                    }
                }
                let (segment, result) = try await storeSegment(
                    fd: fd, offset: offset, length: length, mode: mode, payload: payload, fileName: fileName,
                    name: name, rename: rename, label: label, index: index, ledger: ledger)
                stored.append(segment)
                formatID = result.formatID
                if segmentCount == 1 {
                    return StoredContent(
                        payload: payload, encrypted: result.encrypted, plaintextSize: result.plaintextSize,
                        plaintextSHA256: result.plaintextSHA256, formatID: formatID, objects: stored)
                }
            }
        } catch {
            // A run that stops (login needed, quota, a signal) keeps what it uploaded and its plans, to resume; so
            // does a resumable upload the backend failed after its retries (a network down for an hour must not cost
            // the slices of a 10 GB video already sent). Any other failure of one file leaves nothing behind.
            let code = (error as? ArchiverError)?.code
            let stopsTheRun = (error as? ArchiverError).map(BackupEngine.stopsTheRun) ?? (error is CancellationError)
            let resumable = ledger != nil && code == .backend
            if !stopsTheRun && !resumable {
                for segment in stored { try? await backend.delete(segment.name) }
                try? ledger?.eraseAll()
            }
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
        fd: Int32, offset: Int64, length: Int64, mode: CompressionMode, payload: PayloadCompression, fileName: String,
        name: ObjectName, rename: (() -> ObjectName)?, label: String, index: Int, ledger: UploadLedger?
    ) async throws -> (StoredSegment, EncodedObject) {
        var options = EncodeOptions(recipients: recipients, compression: mode)
        options.fileName = fileName
        if backend.capabilities.needsDigestsBeforeUpload {
            return try await storeHashesFirst(
                fd: fd, offset: offset, length: length, options: options, payload: payload, name: name,
                rename: rename, label: label, index: index, ledger: ledger)
        }
        options.digests = [.sha256]
        let writer = try await backend.openWriter(for: name, size: nil, digests: nil)
        return try await encode(fd: fd, offset: offset, length: length, options: options, into: writer, label: label) {
            result, info in
            StoredSegment(
                name: info.name, storedSize: info.size, storedMD5: result.storedMD5,
                storedSHA256: result.storedSHA256 ?? [], plaintextOffset: offset, plaintextSize: length)
        }
    }

    /// Runs the pipeline into a writer and commits it, or aborts it on any error.
    private func encode(
        fd: Int32, offset: Int64, length: Int64, options: EncodeOptions, into writer: any ObjectWriter, label: String,
        check: @Sendable (EncodedObject) throws -> Void = { _ in },
        segment: (EncodedObject, ObjectInfo) -> StoredSegment
    ) async throws -> (StoredSegment, EncodedObject) {
        do {
            let meter = self.meter
            let result = try await BlockingWork.run("archiver.store") {
                let source: any ByteSource = FileRangeSource(fd: fd, offset: offset, length: length, label: label)
                return try ObjectPipeline.encode(
                    from: meter.map { MeteredSource(source, meter: $0) } ?? source,
                    to: meter.map { MeteredSink(writer, meter: $0) } ?? writer, options: options)
            }
            try check(result)
            try Self.requireLength(result, length, label: label)
            let info = try await writer.commit()
            return (segment(result, info), result)
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// The path for backends that need every digest before the first byte (Baidu): pass 1 hashes the object made
    /// from a fresh per-object secret, the plan is recorded, and pass 2 regenerates the identical bytes for the
    /// upload. A plan an earlier run left for this very file (same fingerprint and settings) is resumed instead:
    /// same secret, same name, the backend's checkpoint, and no pass 1. A session the backend forgot is started
    /// over once with a fresh secret; a name the backend finds taken by other bytes is first checked for the
    /// abandoned plan's object (a commit whose answer was lost can land after its session was reported gone), then
    /// replaced once by a new name.
    private func storeHashesFirst(
        fd: Int32, offset: Int64, length: Int64, options base: EncodeOptions, payload: PayloadCompression,
        name: ObjectName, rename: (() -> ObjectName)?, label: String, index: Int, ledger: UploadLedger?
    ) async throws -> (StoredSegment, EncodedObject) {
        let sliceSize = backend.capabilities.sliceSize ?? 4 << 20
        let compression = payload.catalogName
        var name = name
        var startedOver = false
        var renamed = false
        var abandoned: PendingUpload?
        while true {
            let plan: PendingUpload
            if let found = try ledger?.find(segment: index),
                found.fingerprint == ledger?.fingerprint, found.compression == compression,
                found.recipients == ledger?.recipients, found.plaintextOffset == offset,
                found.plaintextSize == length, found.sliceSize == sliceSize, !startedOver
            {
                plan = found
            } else {
                plan = try await hashPass(
                    fd: fd, offset: offset, length: length, options: base, name: name, label: label, index: index,
                    sliceSize: sliceSize, compression: compression, ledger: ledger)
                try ledger?.save(plan)
            }
            var options = base
            options.secret = try ObjectSecret(bytes: plan.secret)
            // Pass 2 only has to prove it made pass 1's bytes: the slice MD5s cover every byte, and the plan already
            // holds the whole-object digests the catalog records, so the other hashes are not computed twice.
            options.digests = [.sliceMD5s]
            options.sliceSize = sliceSize
            options.expectedFormatID = plan.formatID
            let digests = Self.uploadDigests(plan)
            do {
                let writer = try await backend.openWriter(
                    for: try ObjectName(plan.objectName), size: plan.storedSize, digests: digests,
                    resume: plan.checkpoint.map(UploadCheckpoint.init(state:)),
                    checkpoint: { try? ledger?.checkpoint(segment: index, state: $0.state) })
                guard writer.needsBytes else {
                    // The backend already holds these bytes (rapid upload, or a create a killed run never recorded).
                    return try await commitHeld(writer, plan: plan, payload: payload)
                }
                return try await encode(
                    fd: fd, offset: offset, length: length, options: options, into: writer, label: label,
                    check: { result in
                        guard result.storedSize == digests.size, result.sliceMD5s == digests.sliceMD5s else {
                            throw ArchiverError(
                                .sourceChanged, "the file changed between the hashing pass and the upload",
                                subject: label)
                        }
                    }, segment: { _, info in Self.segment(plan, info) })
            } catch let error as ArchiverError where error.code == .uploadExpired && !startedOver {
                try ledger?.erase(segment: index)
                // A commit whose answer was lost may have landed all the same; one call finds out.
                if let adopted = try await adoptAbandoned(plan, payload: payload) { return adopted }
                abandoned = plan
                startedOver = true
            } catch let error as ArchiverError where error.code == .nameTaken {
                // Taken by other bytes: most likely the abandoned plan's commit, which landed after the check above.
                if let previous = abandoned {
                    abandoned = nil
                    if let adopted = try await adoptAbandoned(previous, payload: payload) { return adopted }
                }
                try ledger?.erase(segment: index)
                guard !renamed, let fresh = rename?() else { throw error }
                name = fresh
                renamed = true
                startedOver = true
            } catch let error as ArchiverError where error.code == .sourceChanged {
                try? ledger?.erase(segment: index)
                throw error
            }
        }
    }

    /// The object an abandoned plan made, when its name holds exactly that plan's bytes; nil when it holds others.
    private func adoptAbandoned(_ plan: PendingUpload, payload: PayloadCompression) async throws -> (
        StoredSegment, EncodedObject
    )? {
        do {
            let writer = try await backend.openWriter(
                for: try ObjectName(plan.objectName), size: plan.storedSize, digests: Self.uploadDigests(plan),
                resume: nil, checkpoint: { _ in })
            guard !writer.needsBytes else {
                await writer.abort()
                return nil
            }
            return try await commitHeld(writer, plan: plan, payload: payload)
        } catch let error as ArchiverError where error.code == .nameTaken {
            return nil
        }
    }

    /// Commits a writer whose backend already holds the plan's bytes.
    private func commitHeld(_ writer: any ObjectWriter, plan: PendingUpload, payload: PayloadCompression) async throws
        -> (StoredSegment, EncodedObject)
    {
        do {
            return (Self.segment(plan, try await writer.commit()), planned(plan, payload: payload))
        } catch {
            await writer.abort()
            throw error
        }
    }

    private static func uploadDigests(_ plan: PendingUpload) -> UploadDigests {
        UploadDigests(size: plan.storedSize, md5: plan.storedMD5, headMD5: plan.headMD5, sliceMD5s: plan.sliceMD5s)
    }

    private static func segment(_ plan: PendingUpload, _ info: ObjectInfo) -> StoredSegment {
        StoredSegment(
            name: info.name, storedSize: info.size, storedMD5: plan.storedMD5, storedSHA256: plan.storedSHA256,
            plaintextOffset: plan.plaintextOffset, plaintextSize: plan.plaintextSize)
    }

    /// The object a plan describes, as if pass 2 had just made it.
    private func planned(_ plan: PendingUpload, payload: PayloadCompression) -> EncodedObject {
        EncodedObject(
            compression: payload, encrypted: !recipients.isEmpty, plaintextSize: plan.plaintextSize,
            plaintextSHA256: plan.plaintextSHA256, storedSize: plan.storedSize, storedMD5: plan.storedMD5,
            storedSHA256: plan.storedSHA256, sliceMD5s: plan.sliceMD5s, headMD5: plan.headMD5,
            formatID: plan.formatID)
    }

    /// Both passes read exactly the planned length, or the file changed under them.
    private static func requireLength(_ result: EncodedObject, _ length: Int64, label: String) throws {
        guard result.plaintextSize == length else {
            throw ArchiverError(.sourceChanged, "the file changed size while it was read", subject: label)
        }
    }

    /// Pass 1: encodes from a fresh secret into nothing, keeping the digests, and returns the plan to record.
    private func hashPass(
        fd: Int32, offset: Int64, length: Int64, options base: EncodeOptions, name: ObjectName, label: String,
        index: Int, sliceSize: Int, compression: String, ledger: UploadLedger?
    ) async throws -> PendingUpload {
        var options = base
        let secret = ObjectSecret.random()
        options.secret = secret
        options.digests = .baidu
        options.sliceSize = sliceSize
        let pass = options
        let result = try await BlockingWork.run("archiver.hash-pass") {
            try ObjectPipeline.encode(
                from: FileRangeSource(fd: fd, offset: offset, length: length, label: label), to: DiscardSink(),
                options: pass)
        }
        try Self.requireLength(result, length, label: label)
        return PendingUpload(
            repositoryID: ledger?.repositoryID ?? "", source: ledger?.source ?? "", path: ledger?.path ?? [],
            segment: index, objectName: name.value, fingerprint: ledger?.fingerprint ?? "", secret: secret.bytes,
            compression: compression, recipients: ledger?.recipients ?? "", formatID: result.formatID,
            plaintextOffset: offset, plaintextSize: length, plaintextSHA256: result.plaintextSHA256,
            storedSize: result.storedSize, storedMD5: result.storedMD5 ?? [], storedSHA256: result.storedSHA256 ?? [],
            headMD5: result.headMD5 ?? [], sliceSize: sliceSize, sliceMD5s: result.sliceMD5s)
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
        // One object: the pipeline's own plaintext hash is the content's, checked there. Several (segments): the
        // content's hash runs over all of them here. Hashing twice cost a restore a third of its time.
        let single = objects.count == 1
        let hashing = single ? nil : HashingSink(sink)
        for object in objects {
            let reader = try await backend.openReader(for: object.name, range: nil)
            var options = DecodeOptions(identities: encrypted ? identities : [], compression: payload)
            options.expectedSize = object.plaintextSize >= 0 ? object.plaintextSize : nil
            if single { options.expectedSHA256 = plaintextSHA256 }
            let decodeOptions = options
            let target: any ByteSink = hashing ?? sink
            do {
                _ = try await BlockingWork.run("archiver.load") {
                    try ObjectPipeline.decode(from: reader, to: target, options: decodeOptions)
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
        if let hashing, let plaintextSHA256, hashing.digest() != plaintextSHA256 {
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
