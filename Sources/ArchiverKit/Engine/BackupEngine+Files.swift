import Age
import Foundation
import Logging

/// The work on one file, as a task runs it: open, hash when a duplicate may exist, store, check the file did not
/// change. Nothing here writes the catalog's record of the file or touches the run's counts: the task returns a
/// `FileResult` and the engine records it (in a batch for small files), so several files may be in flight.
extension BackupEngine {
    /// A regular file to store, as the folder walk found it.
    struct FileJob: Sendable {
        var source: ArchiverConfig.Source
        var dir: [UInt8]
        var path: [UInt8]
        var display: String
        var previous: CatalogEntry?
        /// The size the listing saw; decides small or large.
        var size: Int64
        /// Hash before storing even when the catalog holds no content of this size: a file of the same size is in
        /// flight or waiting to be recorded, and may be identical.
        var hashFirst: Bool
    }

    /// What a file task returns.
    struct FileResult: Sendable {
        var job: FileJob
        var outcome: Result<FileOutcome, any Error>
        /// Digests this task claimed; the engine keeps the one its content was stored under and releases the rest.
        var claimed: [[UInt8]]
    }

    /// A file read and stored (or found stored), not yet recorded.
    struct FileOutcome: Sendable {
        enum Content: Sendable {
            /// Stored by this task; `recipients` sorted, as the catalog records them.
            case stored(StoredContent, recipients: [String])
            /// A content the catalog holds; `deduplicated` is false when it is the file's own previous content.
            case existing(Int64, deduplicated: Bool)
            /// The same content as the current version (a re-read the mtime race guard asked for).
            case unchanged(versionID: Int64, contentID: Int64)
            /// An empty file kept without an object.
            case empty
            /// Identical to a content another file in flight is storing (`ContentClaims`).
            case duplicate(of: [UInt8])
        }

        var content: Content
        /// The file's metadata when opened: what the version records.
        var before: ScannedEntry
        var bytesRead: Int64
        /// Whether pending uploads were recorded for the path (digests-first backends), to erase with the record.
        var usedLedger: Bool

        var bytesStored: Int64 {
            if case .stored(let content, _) = content { return content.storedSize }
            return 0
        }
    }

    struct Fingerprint: Equatable {
        /// As a pending upload records it: a plan is resumed only for the same text.
        var text: String { "\(size):\(mtimeNs):\(ctimeNs):\(inode)" }
        var size: Int64
        var mtimeNs: Int64
        var ctimeNs: Int64
        var inode: UInt64
    }

    /// Reads and stores one file, retrying when it changes while read; never throws, so a task group's other files
    /// go on (the engine decides what an error means for the run).
    func storeFile(_ job: FileJob, scanner: SourceScanner, runID: Int64?, claims: ContentClaims?) async -> FileResult {
        var claimed: [[UInt8]] = []
        do {
            let outcome = try await storeAttempts(job, scanner: scanner, runID: runID, claims: claims, claimed: &claimed)
            return FileResult(job: job, outcome: .success(outcome), claimed: claimed)
        } catch {
            return FileResult(job: job, outcome: .failure(error), claimed: claimed)
        }
    }

    private func storeAttempts(
        _ job: FileJob, scanner: SourceScanner, runID: Int64?, claims: ContentClaims?, claimed: inout [[UInt8]]
    ) async throws -> FileOutcome {
        var lastError: ArchiverError?
        for attempt in 1...Self.attempts {
            let (fd, before) = try scanner.openFile(job.path)
            defer { close(fd) }
            let outcome = try await storeOpenFile(
                job, runID: runID, fd: fd, before: before, claims: claims, claimed: &claimed)
            var after = stat()
            guard fstat(fd, &after) == 0 else { throw ArchiverError.posix("cannot stat", path: job.display) }
            guard fileFingerprintChanged(before: before, after: ScannedEntry(name: before.name, stat: after)) else {
                return outcome
            }
            // What was stored is no file's content: nothing will record it, so it is not left behind.
            if case .stored(let content, _) = outcome.content {
                for object in content.objects { try? await backend.delete(object.name) }
            }
            if outcome.usedLedger, let catalog {
                try? catalog.erasePendingUploads(repositoryID: repositoryID, source: job.source.remote, path: job.path)
            }
            lastError = ArchiverError(.sourceChanged, "changed while it was read", subject: job.display)
            logger.info("\(job.display) changed while read (attempt \(attempt) of \(Self.attempts)); retrying")
        }
        throw ArchiverError(
            .sourceChanged, "kept changing while it was read (\(Self.attempts) attempts); it will be tried next run",
            subject: job.display, cause: lastError)
    }

    private func storeOpenFile(
        _ job: FileJob, runID: Int64?, fd: Int32, before: ScannedEntry, claims: ContentClaims?,
        claimed: inout [[UInt8]]
    ) async throws -> FileOutcome {
        let encrypted = config.encryption
        // An empty file stored with neither encryption nor compression would be an empty object, which some
        // backends refuse: it is recorded with no object and recreated on restore.
        if before.size == 0 && !encrypted && !backend.capabilities.allowsEmptyObjects {
            return FileOutcome(content: .empty, before: before, bytesRead: 0, usedLedger: false)
        }
        // Deduplication needs the plaintext hash before storing; hash first only when a content of the same
        // size exists or may soon exist, which is rare for large files and cheap for small ones.
        if let catalog, runID != nil,
            try job.hashFirst
                || catalog.hasContent(repositoryID: repositoryID, plaintextSize: before.size, encrypted: encrypted)
        {
            let digest = try await BlockingWork.sha256(fd: fd, length: before.size, label: job.display)
            if let match = try reusableContent(plaintextSHA256: digest, size: before.size) {
                // The same content as before (a re-read the race guard asked for) is not a duplicate.
                let content: FileOutcome.Content =
                    if let previous = job.previous, previous.contentID == match,
                        previous.fingerprint == before.fingerprint
                    {
                        .unchanged(versionID: previous.versionID, contentID: match)
                    } else {
                        .existing(match, deduplicated: true)
                    }
                return FileOutcome(content: content, before: before, bytesRead: before.size, usedLedger: false)
            }
            if let claims, !claimed.contains(digest) {
                guard claims.claim(digest) else {
                    return FileOutcome(
                        content: .duplicate(of: digest), before: before, bytesRead: before.size, usedLedger: false)
                }
                claimed.append(digest)
            }
        }
        let naming: NameRequest =
            config.naming == .mirror
            ? .mirror(
                source: job.source.remote, path: job.path, tag: "v\(runID ?? 0)-\(ObjectNamer.randomHex(3))")
            : .opaque
        let store = ObjectStore(
            backend: backend, namer: self.store.namer, recipients: self.store.recipients,
            compression: job.source.compression, meter: meter)
        let recipients = store.recipients.map(\.description).sorted()
        var ledger: UploadLedger?
        if let catalog, runID != nil, backend.capabilities.needsDigestsBeforeUpload {
            ledger = UploadLedger(
                catalog: catalog, repositoryID: repositoryID, source: job.source.remote, path: job.path,
                fingerprint: before.fingerprint.text, recipients: recipients.joined(separator: "\n"))
        }
        let content = try await store.store(
            fd: fd, size: before.size, fileName: BytePath.display(before.name), naming: naming, label: job.display,
            ledger: ledger)
        return FileOutcome(
            content: .stored(content, recipients: recipients), before: before, bytesRead: before.size,
            usedLedger: ledger != nil)
    }

    /// A stored content with this plaintext that may be referenced: same repository and encryption setting, and
    /// recipients that include every current one (so no current key holder loses access).
    private func reusableContent(plaintextSHA256: [UInt8], size: Int64) throws -> Int64? {
        guard let catalog else { return nil }
        let current = Set(store.recipients.map(\.description))
        return try catalog.findContent(
            repositoryID: repositoryID, plaintextSHA256: plaintextSHA256, plaintextSize: size,
            encrypted: config.encryption
        ).first { current.isSubset(of: Set($0.recipients)) }?.id
    }
}

extension ScannedEntry {
    var fingerprint: BackupEngine.Fingerprint {
        BackupEngine.Fingerprint(size: size, mtimeNs: mtimeNs, ctimeNs: ctimeNs, inode: inode)
    }
}

extension CatalogEntry {
    var fingerprint: BackupEngine.Fingerprint {
        BackupEngine.Fingerprint(size: size, mtimeNs: mtimeNs, ctimeNs: ctimeNs, inode: inode)
    }
}
