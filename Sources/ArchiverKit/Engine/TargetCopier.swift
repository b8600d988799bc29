import Crypto
import Foundation
public import Logging

/// What a copy between targets did.
public struct CopySummary: Sendable {
    /// The destination's catalog run.
    public var runID: Int64
    /// The source's run whose state was copied.
    public var sourceRunID: Int64
    /// How the copy ended.
    public var status: RunStatus
    /// Files whose objects were sent.
    public var copied: Int64 = 0
    /// Files the destination already held in another content (recorded without sending anything).
    public var reused: Int64 = 0
    /// Files the destination already held as they are (nothing to do).
    public var unchanged: Int64 = 0
    /// Objects sent.
    public var objects: Int64 = 0
    /// Objects found already on the destination under their copy name (a copy killed after an upload).
    public var adopted: Int64 = 0
    /// Stored bytes sent.
    public var bytes: Int64 = 0
    /// Current versions of the destination the source's state lacks, ended.
    public var ended: Int64 = 0
    /// Files that could not be copied, with the reason.
    public var failures: [(path: String, message: String)] = []
    /// Wall-clock seconds.
    public var seconds: Double = 0
}

/// Sends the stored objects of one target's last completed run to another target, without reading or encrypting
/// the source files again: each object is read from the source target, checked against its recorded SHA-256 as it
/// streams, written to the destination under the destination's naming, and recorded in the destination's rows
/// (a catalog run of its own), so the destination's state matches the source's for what was copied.
///
/// For a destination that wants every digest before the first byte (Baidu), the object is streamed twice: once to
/// hash, once to send; never through a temporary copy. Contents the destination already holds are not sent again.
/// A killed copy loses nothing: every file is recorded once its objects are confirmed, and an object that landed
/// before the kill is found under its name (derived from the object's digest) instead of being sent again.
///
/// The caller holds the catalog's run lock.
public struct TargetCopier: Sendable {
    let config: ArchiverConfig
    let catalog: Catalog
    let from: OpenedTarget
    let to: OpenedTarget
    let logger: Logger
    let meter: TransferMeter
    let namer: ObjectNamer

    /// Bytes per read while streaming an object.
    static let bufferSize = 1 << 20

    /// Prepares a copy.
    /// - Parameters:
    ///   - config: the naming (`naming:`) and the upload limits (`limits:`).
    ///   - catalog: the catalog, open for writing.
    ///   - from: the opened source target.
    ///   - to: the opened destination target.
    ///   - logger: where to log.
    public init(config: ArchiverConfig, catalog: Catalog, from: OpenedTarget, to: OpenedTarget, logger: Logger) {
        self.config = config
        self.catalog = catalog
        self.from = from
        self.to = to
        self.logger = logger
        meter = TransferMeter(limits: config.limits, zone: config.scheduleZone().zone)
        namer = ObjectNamer(repositoryID: to.marker.id, capabilities: to.backend.capabilities)
    }

    /// Runs the copy.
    /// - Throws: `ArchiverError(.usage)` when the source has no completed run; errors that stop a run (target
    ///   gone, quota, login needed, the catalog). A file that cannot be copied is reported in the summary.
    public func run() async throws -> CopySummary {
        let started = Date()
        let source = from.marker.id
        let destination = to.marker.id
        guard source != destination else {
            throw ArchiverError(.usage, "\(from.target.name) and \(to.target.name) are the same repository")
        }
        guard let sourceRun = try catalog.lastCompletedRun(repositoryID: source) else {
            throw ArchiverError(
                .usage,
                "\(from.target.name) has no completed backup to copy; run `archiver backup --target \(from.target.name)`"
            )
        }
        try catalog.registerRepository(id: destination, spec: to.backend.spec)
        let runID = try catalog.beginRun(repositoryID: destination, dryRun: false)
        // Objects can have landed unrecorded only when the destination's previous run did not finish: only then is
        // each name looked up on the destination first (one request per object on Baidu).
        let previous = try catalog.runs(repositoryID: destination, limit: 2).first { $0.id != runID }
        let resuming = previous.map { [.interrupted, .failed, .running].contains($0.status) } ?? false
        var summary = CopySummary(runID: runID, sourceRunID: sourceRun.id, status: .running)
        do {
            var folder: (source: String, dir: [UInt8])?
            var known: [[UInt8]: CatalogEntry] = [:]
            let state = try catalog.state(repositoryID: source, asOfRun: sourceRun.id, source: nil, pathPrefix: nil)
            try await state.forEach { (item: RestoreItem) async throws in
                try Task.checkCancellation()
                let version = item.version
                if folder?.source != version.source || folder?.dir != version.dir {
                    folder = (version.source, version.dir)
                    known = Dictionary(
                        try catalog.currentEntries(repositoryID: destination, source: version.source, dir: version.dir)
                            .map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                }
                do {
                    try await copy(
                        item, previous: known[version.name], runID: runID, resuming: resuming, summary: &summary)
                } catch let error as ArchiverError where BackupEngine.stopsTheRun(error) {
                    throw error
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    let message = (error as? ArchiverError)?.message ?? "\(error)"
                    logger.warning("\(version.display): \(message)")
                    summary.failures.append((version.display, message))
                    try catalog.recordFailure(
                        runID: runID, repositoryID: destination, source: version.source, dir: version.dir,
                        name: version.name, display: version.display, message: message)
                }
            }
            summary.ended = Int64(
                try catalog.endVersionsAbsent(
                    repositoryID: destination, runID: runID, from: source, asOfRun: sourceRun.id))
        } catch {
            let status: RunStatus = error is CancellationError ? .interrupted : .failed
            try? catalog.finishRun(runID, status: status, counts: counts(summary))
            throw error
        }
        summary.status = summary.failures.isEmpty ? .completed : .partial
        try catalog.finishRun(runID, status: summary.status, counts: counts(summary))
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    private func counts(_ s: CopySummary) -> RunCounts {
        RunCounts(
            filesSeen: s.copied + s.reused + s.unchanged + Int64(s.failures.count), stored: s.copied,
            unchanged: s.unchanged, deduplicated: s.reused, failed: Int64(s.failures.count), bytesStored: s.bytes)
    }

    /// Copies one entry of the source's state: records it in the destination unless the destination's current
    /// version is already the same.
    private func copy(
        _ item: RestoreItem, previous: CatalogEntry?, runID: Int64, resuming: Bool, summary: inout CopySummary
    ) async throws {
        let v = item.version
        let sameMetadata =
            previous.map {
                $0.kind == v.kind && $0.size == v.size && $0.mtimeNs == v.mtimeNs && $0.mode == v.mode
                    && $0.uid == v.uid && $0.gid == v.gid && $0.linkTarget == v.linkTarget
            } ?? false
        var contentID: Int64?
        if v.kind == .file {
            if let previous, sameMetadata, previous.ctimeNs == v.ctimeNs, previous.inode == v.inode,
                !previous.contentDamaged, try holds(previous.contentID, item.content)
            {
                summary.unchanged += 1
                return
            }
            contentID = try await ensureContent(item, runID: runID, resuming: resuming, summary: &summary)
        } else if sameMetadata {
            return
        }
        try catalog.recordVersion(
            runID: runID, repositoryID: to.marker.id, source: v.source,
            entry: NewVersion(
                dir: v.dir, name: v.name, display: v.display, kind: v.kind, size: v.size, mtimeNs: v.mtimeNs,
                ctimeNs: v.ctimeNs, inode: v.inode, mode: v.mode, uid: v.uid, gid: v.gid, linkTarget: v.linkTarget,
                contentID: contentID))
    }

    /// Whether the destination's content holds the same plaintext as the source's (both none for empty files).
    private func holds(_ destinationContent: Int64?, _ sourceContent: ContentRecord?) throws -> Bool {
        guard let destinationContent else { return sourceContent == nil }
        guard let sourceContent, let held = try catalog.content(id: destinationContent) else { return false }
        return held.plaintextSHA256 == sourceContent.plaintextSHA256
            && held.plaintextSize == sourceContent.plaintextSize
    }

    /// The destination's content for the item's plaintext: one it already holds, or the source's objects sent over.
    private func ensureContent(_ item: RestoreItem, runID: Int64, resuming: Bool, summary: inout CopySummary)
        async throws -> Int64?
    {
        guard let content = item.content else { return nil }
        let destination = to.marker.id
        if let held = try catalog.findContent(
            repositoryID: destination, plaintextSHA256: content.plaintextSHA256, plaintextSize: content.plaintextSize,
            encrypted: content.encrypted
        ).first {
            summary.reused += 1
            return held.id
        }
        // An empty file stored plain is an empty object, which some backends refuse: recorded with no content, as a
        // backup to that target would.
        if content.plaintextSize == 0, item.objects.allSatisfy({ $0.storedSize == 0 }),
            !to.backend.capabilities.allowsEmptyObjects
        {
            return nil
        }
        var objects: [NewObject] = []
        do {
            for object in item.objects {
                objects.append(
                    try await send(
                        object, of: content, version: item.version, segments: item.objects.count, resuming: resuming,
                        summary: &summary))
            }
            let id = try catalog.recordContent(
                NewContent(
                    repositoryID: destination, runID: runID, plaintextSHA256: content.plaintextSHA256,
                    plaintextSize: content.plaintextSize, encrypted: content.encrypted, recipients: content.recipients,
                    compression: content.compression, formatID: content.formatID),
                objects: objects)
            summary.copied += 1
            return id
        } catch let error as ArchiverError where BackupEngine.stopsTheRun(error) {
            // Kept for the rerun, which finds them under the same names.
            throw error
        } catch {
            // A file that fails on its own leaves nothing unrecorded behind.
            for object in objects { try? await to.backend.delete(try ObjectName(object.name)) }
            throw error
        }
    }

    /// Sends one object to the destination, or finds it there already; returns its row.
    private func send(
        _ object: ObjectRecord, of content: ContentRecord, version: VersionRecord, segments: Int, resuming: Bool,
        summary: inout CopySummary
    ) async throws -> NewObject {
        let caps = to.backend.capabilities
        var limit = caps.maxObjectSize
        if let slice = caps.sliceSize, let count = caps.maxSlices {
            limit = min(limit ?? .max, Int64(slice) * Int64(count))
        }
        if let limit, object.storedSize > limit {
            throw ArchiverError(
                .backend,
                "its object is \(object.storedSize) bytes, more than \(to.target.name) takes (\(limit)); back the file "
                    + "up to \(to.target.name) directly (it is cut into segments there)",
                subject: version.display)
        }
        let name = try freshName(for: object, of: content, version: version, segments: segments)
        var row = NewObject(
            segment: object.segment, name: name.value, storedSize: object.storedSize, storedMD5: object.storedMD5,
            storedSHA256: object.storedSHA256, plaintextOffset: object.plaintextOffset,
            plaintextSize: object.plaintextSize)
        if resuming, let found = try await to.backend.stat(name), found.size == object.storedSize {
            summary.adopted += 1
            return row
        }
        let sourceName = try ObjectName(object.name)
        if caps.needsDigestsBeforeUpload {
            // Pass 1: hash what the source holds (checking its SHA-256), so the upload can announce every digest.
            let sliceSize = caps.sliceSize ?? 4 << 20
            let first = try await stream(sourceName, expected: object, digests: .baidu, sliceSize: sliceSize, into: nil)
            let digests = UploadDigests(
                size: first.count, md5: first.md5 ?? [], headMD5: first.head ?? [], sliceMD5s: first.slices)
            row.storedMD5 = first.md5
            let writer = try await to.backend.openWriter(for: name, size: object.storedSize, digests: digests)
            if writer.needsBytes {
                // Pass 2: the same bytes again, each slice checked against pass 1 by the stream below.
                do {
                    let second = try await stream(
                        sourceName, expected: object, digests: [.sha256, .sliceMD5s], sliceSize: sliceSize,
                        into: writer)
                    guard second.slices == first.slices else {
                        throw ArchiverError(
                            .integrity, "object \(object.name) read differently the second time",
                            subject: version.display)
                    }
                } catch {
                    await writer.abort()
                    throw error
                }
                summary.bytes += object.storedSize
            }
            try await commit(writer)
        } else {
            let writer = try await to.backend.openWriter(for: name, size: object.storedSize, digests: nil)
            do {
                _ = try await stream(
                    sourceName, expected: object, digests: [.sha256], sliceSize: Self.bufferSize, into: writer)
            } catch {
                await writer.abort()
                throw error
            }
            try await commit(writer)
            summary.bytes += object.storedSize
        }
        summary.objects += 1
        return row
    }

    private func commit(_ writer: any ObjectWriter) async throws {
        do {
            _ = try await writer.commit()
        } catch {
            await writer.abort()
            throw error
        }
    }

    /// The destination name: derived from the object's digest (so a rerun finds what landed), or a fresh random one
    /// when the catalog already records that name.
    private func freshName(
        for object: ObjectRecord, of content: ContentRecord, version: VersionRecord, segments: Int
    ) throws -> ObjectName {
        let suffix = PayloadCompression(catalogName: content.compression).suffix(encrypted: content.encrypted)
        let digest = Array(SHA256.hash(data: object.storedSHA256 + Array(to.marker.id.utf8)))
        let name: ObjectName
        switch config.naming {
        case .opaque:
            name = namer.derived(from: digest, suffix: suffix)
        case .mirror:
            let tag = "c" + ObjectNamer.hex(digest.prefix(4)) + (segments > 1 ? ".part\(object.segment + 1)" : "")
            name = namer.mirror(source: version.source, path: version.path, tag: tag, suffix: suffix)
        }
        if try catalog.object(repositoryID: to.marker.id, name: name.value) == nil { return name }
        return namer.opaque(suffix: suffix)
    }

    /// Streams a source object once, hashing it, into `sink` (or nowhere), and refuses it unless its SHA-256 is the
    /// recorded one: a damaged or tampered source object is never copied.
    private func stream(
        _ name: ObjectName, expected object: ObjectRecord, digests: StoredDigests, sliceSize: Int,
        into sink: (any ObjectWriter)?
    ) async throws -> StreamedDigests {
        let reader = try await from.backend.openReader(for: name, range: nil)
        // Only the upload is metered (progress and `limits:`), not the hashing pass.
        let target: (any ByteSink)? = sink.map { MeteredSink($0, meter: meter) }
        let result: StreamedDigests
        do {
            result = try await BlockingWork.run("archiver.copy") {
                try Self.pump(reader, into: target, digests: digests, sliceSize: sliceSize)
            }
        } catch {
            await reader.close()
            throw error
        }
        await reader.close()
        guard result.count == object.storedSize, result.sha256 == object.storedSHA256 else {
            throw ArchiverError(
                .integrity,
                "object \(object.name) on \(from.target.name) does not match its recorded size and SHA-256; it was not "
                    + "copied (run `archiver verify --stored --target \(from.target.name)`)",
                subject: object.name)
        }
        return result
    }

    /// Reads `reader` to its end through one reused buffer, hashing every byte and writing it to `sink`.
    private static func pump(
        _ reader: any ObjectReader, into sink: (any ByteSink)?, digests: StoredDigests, sliceSize: Int
    ) throws -> StreamedDigests {
        var hasher = StoredHasher(digests: digests.union(.sha256), sliceSize: sliceSize)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
            hasher.update(chunk)
            try sink?.write(chunk)
        }
        let count = hasher.count
        let done = hasher.finish()
        return StreamedDigests(count: count, md5: done.md5, sha256: done.sha256, slices: done.slices, head: done.head)
    }
}

/// The digests of one streamed object.
struct StreamedDigests: Sendable {
    var count: Int64
    var md5: [UInt8]?
    var sha256: [UInt8]?
    var slices: [[UInt8]]
    var head: [UInt8]?
}
