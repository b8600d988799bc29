import Age
import Foundation
public import Logging

/// What a backup run did, for the summary line and `--json`.
public struct BackupSummary: Sendable {
    /// The catalog run id, or nil for a run that writes no catalog rows (`mock:`, `--dry-run`).
    public var runID: Int64?
    /// The run's final status.
    public var status: RunStatus
    /// Counts and bytes.
    public var counts: RunCounts
    /// Wall-clock duration in seconds.
    public var seconds: Double
    /// Files that failed, with the reason.
    public var failures: [(path: String, message: String)]
    /// Entries skipped on purpose (FIFOs, devices, cache folders), with the reason.
    public var skipped: [(path: String, message: String)]
    /// For `--dry-run`: files that would be read and stored.
    public var wouldStore: Int64
    /// For `--dry-run`: their bytes.
    public var wouldStoreBytes: Int64
}

/// Reports progress while a run goes on.
public protocol BackupProgress: Sendable {
    /// A file is about to be read and stored.
    func storing(path: String, size: Int64)
    /// A file was stored, deduplicated or failed.
    func finished(path: String, outcome: String)
}

/// Backs up every source of a config to one target.
///
/// Per directory: one listing (one stat per entry) and one catalog query; a file whose size, mtime, ctime and
/// inode match its current version is not opened. Every stored file commits to the catalog at once, only after
/// the backend confirmed its objects, so a killed run loses nothing and redoes only the file in flight.
public final class BackupEngine: Sendable {
    let config: ArchiverConfig
    let catalog: Catalog?
    let backend: any RemoteBackend
    let repositoryID: String
    let logger: Logger
    let progress: (any BackupProgress)?
    let store: ObjectStore
    let dryRun: Bool
    /// Counts and paces the run's uploads.
    public let meter: TransferMeter

    /// Attempts per file when it changes while read.
    static let attempts = 3
    /// How recent an mtime may be, relative to the run that recorded it, and still be trusted (borg's race guard:
    /// a file modified within the file system's timestamp granularity of being read could change unseen).
    static let mtimeGranularityNs: Int64 = 1_000_000_000

    /// Prepares a run.
    /// - Parameters:
    ///   - config: the loaded configuration.
    ///   - catalog: the catalog; nil when the backend keeps nothing.
    ///   - backend: the opened target.
    ///   - repositoryID: the target's repository id.
    ///   - dryRun: scan and compare only; read and store nothing.
    ///   - logger: where to log.
    ///   - progress: live progress, if wanted.
    ///   - meter: counts the bytes uploaded and paces them by `limits:`; by default a meter for the config's limits.
    public init(
        config: ArchiverConfig, catalog: Catalog?, backend: any RemoteBackend, repositoryID: String,
        dryRun: Bool = false, logger: Logger, progress: (any BackupProgress)? = nil, meter: TransferMeter? = nil
    ) {
        self.config = config
        self.catalog = catalog
        self.backend = backend
        self.repositoryID = repositoryID
        self.logger = logger
        self.progress = progress
        self.dryRun = dryRun
        let meter = meter ?? TransferMeter(limits: config.limits, zone: config.scheduleZone().zone)
        self.meter = meter
        self.store = ObjectStore(
            backend: backend, namer: ObjectNamer(repositoryID: repositoryID, capabilities: backend.capabilities),
            recipients: config.encryption ? config.recipients : [], compression: config.compression, meter: meter)
    }

    /// Runs the backup.
    /// - Returns: the summary.
    /// - Throws: `ArchiverError` for what stops the whole run (target gone, catalog unwritable, quota); problems
    ///   with single files are recorded and reported instead.
    public func run() async throws -> BackupSummary {
        let started = Date()
        let writesCatalog = catalog != nil && backend.persists && !dryRun
        var state = RunState()
        let runID: Int64?
        if writesCatalog, let catalog {
            try catalog.registerRepository(id: repositoryID, spec: backend.spec)
            runID = try catalog.beginRun(repositoryID: repositoryID, dryRun: false)
        } else {
            runID = nil
        }
        let runStartNs = Int64(started.timeIntervalSince1970 * 1e9)
        do {
            for source in config.sources {
                try Task.checkCancellation()
                try await backUp(source: source, runID: runID, runStartNs: runStartNs, state: &state)
            }
        } catch {
            if let runID, let catalog {
                let status: RunStatus = error is CancellationError ? .interrupted : .failed
                try? catalog.finishRun(runID, status: status, counts: state.counts)
            }
            throw error
        }
        let status: RunStatus = state.counts.failed > 0 ? .partial : .completed
        if let runID, let catalog {
            try catalog.finishRun(runID, status: status, counts: state.counts)
        }
        return BackupSummary(
            runID: runID, status: status, counts: state.counts, seconds: Date().timeIntervalSince(started),
            failures: state.failures, skipped: state.skipped, wouldStore: state.wouldStore,
            wouldStoreBytes: state.wouldStoreBytes)
    }

    struct RunState {
        var counts = RunCounts()
        var failures: [(path: String, message: String)] = []
        var skipped: [(path: String, message: String)] = []
        var wouldStore: Int64 = 0
        var wouldStoreBytes: Int64 = 0
    }

    private func backUp(source: ArchiverConfig.Source, runID: Int64?, runStartNs: Int64, state: inout RunState)
        async throws
    {
        let matcher = try ExcludeMatcher(patterns: config.exclude + source.exclude)
        let scanner: SourceScanner
        do {
            scanner = try SourceScanner(root: source.local, excludes: matcher)
        } catch {
            // A source folder that is missing (a share not mounted) fails that source only; nothing of it is
            // marked deleted, and the other sources are still backed up.
            let message = (error as? ArchiverError)?.message ?? "\(error)"
            state.counts.failed += 1
            state.failures.append((source.remote, "source \(source.local): \(message)"))
            logger.error("source \(source.local): \(message)")
            return
        }
        let context = WalkContext(source: source, runID: runID, runStartNs: runStartNs, scanner: scanner)
        // Claims make two identical files in flight share one content; they need the catalog to find it later.
        var flight = InFlight(width: filesInFlight, claims: runID != nil ? ContentClaims() : nil)
        try await withThrowingTaskGroup(of: FileResult.self) { group in
            do {
                try await walk(context, group: &group, flight: &flight, state: &state)
            } catch {
                if flight.stop == nil { flight.stop = error }
            }
            // A stop takes no new file, but the files in flight finish and are recorded before it is thrown.
            try await drain(&group, flight: &flight, context: context, state: &state)
            if let stop = flight.stop { throw stop }
        }
    }

    /// Walks a source's folders depth first in name order: folders and symlinks are recorded at once, small files
    /// go to tasks, large ones are stored in turn, and names gone from a folder are marked deleted.
    private func walk(
        _ context: WalkContext, group: inout ThrowingTaskGroup<FileResult, any Error>, flight: inout InFlight,
        state: inout RunState
    ) async throws {
        let (source, runID, scanner) = (context.source, context.runID, context.scanner)
        let runStartNs = context.runStartNs
        var pending: [[UInt8]] = [[]]
        while let dir = pending.popLast() {
            try Task.checkCancellation()
            let listing: DirectoryListing
            do {
                listing = try scanner.list(directory: dir)
            } catch {
                // An unreadable folder: report it and keep what the catalog knows below it.
                let display = "\(source.remote)/\(BytePath.display(dir))"
                try fail(source: source, runID: runID, dir: BytePath.split(dir).dir, name: BytePath.split(dir).name,
                    display: display, error: error, state: &state)
                continue
            }
            if listing.isCacheDirectory {
                state.skipped.append(("\(source.remote)/\(BytePath.display(dir))", "holds CACHEDIR.TAG; not backed up"))
            }
            let known: [[UInt8]: CatalogEntry]
            if let catalog, runID != nil || dryRun {
                known = Dictionary(
                    try catalog.currentEntries(repositoryID: repositoryID, source: source.remote, dir: dir).map {
                        ($0.name, $0)
                    }, uniquingKeysWith: { a, _ in a })
            } else {
                known = [:]
            }
            var seen = Set<[UInt8]>()
            // Subfolders are pushed in reverse so they are visited in name order.
            var subdirectories: [[UInt8]] = []
            for entry in listing.entries {
                // A shutdown takes no new file: the files in flight finish and are recorded, the next is not begun.
                try Task.checkCancellation()
                if let stop = flight.stop { throw stop }
                let path = BytePath.join(dir, entry.name)
                // Made for messages and records only: most entries of a rescan are unchanged and need neither.
                var display: String { "\(source.remote)/\(BytePath.display(path))" }
                switch entry.kind {
                case .fifo, .socket, .characterDevice, .blockDevice, .unknown:
                    state.skipped.append((display, "is a \(entry.kind) (not a regular file); skipped"))
                    continue
                default:
                    break
                }
                seen.insert(entry.name)
                state.counts.filesSeen += 1
                let previous = known[entry.name]
                do {
                    switch entry.kind {
                    case .directory:
                        subdirectories.append(path)
                        if let runID, metadataChanged(previous, entry, kind: .dir) {
                            try record(source: source, runID: runID, dir: dir, entry: entry, display: display, kind: .dir)
                        }
                    case .symlink:
                        let target = try scanner.readLink(path)
                        if let runID, metadataChanged(previous, entry, kind: .symlink) || previous?.linkTarget != target {
                            try record(
                                source: source, runID: runID, dir: dir, entry: entry, display: display, kind: .symlink,
                                linkTarget: target)
                        }
                    default:
                        if let previous, isUnchanged(previous, entry, runStartNs: runStartNs) {
                            state.counts.unchanged += 1
                            continue
                        }
                        if dryRun {
                            state.wouldStore += 1
                            state.wouldStoreBytes += entry.size
                            continue
                        }
                        let job = FileJob(
                            source: source, dir: dir, path: path, display: display, previous: previous,
                            size: entry.size, hashFirst: false)
                        if entry.size <= Self.smallFileLimit {
                            try await startSmall(job, in: &group, flight: &flight, context: context, state: &state)
                        } else {
                            try await storeLarge(job, in: &group, flight: &flight, context: context, state: &state)
                        }
                    }
                } catch let error as ArchiverError where Self.stopsTheRun(error) {
                    throw error
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    try fail(source: source, runID: runID, dir: dir, name: entry.name, display: display, error: error,
                        state: &state)
                }
            }
            pending.append(contentsOf: subdirectories.reversed())
            if let runID, let catalog {
                let gone = known.keys.filter { !seen.contains($0) }.sorted { $0.lexicographicallyPrecedes($1) }
                if !gone.isEmpty {
                    try catalog.markDeleted(runID: runID, repositoryID: repositoryID, source: source.remote, dir: dir, names: gone)
                }
            }
        }
    }

    /// Errors that mean the target or the catalog cannot go on, as opposed to one bad file.
    static func stopsTheRun(_ error: ArchiverError) -> Bool {
        [.quota, .targetUnavailable, .loginNeeded, .catalog, .locked, .interrupted, .key].contains(error.code)
    }

    private func isUnchanged(_ previous: CatalogEntry, _ entry: ScannedEntry, runStartNs: Int64) -> Bool {
        guard previous.kind == .file, !previous.contentDamaged else { return false }
        guard previous.fingerprint == entry.fingerprint else { return false }
        // The race guard: an mtime this close to the recording run's start may hide a later change.
        if let recordedRunStartNs = previous.recordedRunStartNs,
            entry.mtimeNs >= recordedRunStartNs - Self.mtimeGranularityNs
        {
            return false
        }
        return true
    }

    private func metadataChanged(_ previous: CatalogEntry?, _ entry: ScannedEntry, kind: EntryKind) -> Bool {
        guard let previous, previous.kind == kind else { return true }
        return previous.mode != entry.mode || previous.mtimeNs != entry.mtimeNs || previous.uid != entry.uid
            || previous.gid != entry.gid
    }

    private func record(
        source: ArchiverConfig.Source, runID: Int64, dir: [UInt8], entry: ScannedEntry, display: String,
        kind: EntryKind, linkTarget: [UInt8]? = nil, contentID: Int64? = nil, size: Int64? = nil
    ) throws {
        try catalog?.recordVersion(
            runID: runID, repositoryID: repositoryID, source: source.remote,
            entry: NewVersion(
                dir: dir, name: entry.name, display: display, kind: kind, size: size ?? entry.size,
                mtimeNs: entry.mtimeNs, ctimeNs: entry.ctimeNs, inode: entry.inode, mode: entry.mode, uid: entry.uid,
                gid: entry.gid, linkTarget: linkTarget, contentID: contentID))
    }

    func fail(
        source: ArchiverConfig.Source, runID: Int64?, dir: [UInt8], name: [UInt8], display: String,
        error: any Error, state: inout RunState
    ) throws {
        let message = (error as? ArchiverError)?.message ?? "\(error)"
        state.counts.failed += 1
        state.failures.append((display, message))
        progress?.finished(path: display, outcome: "failed: \(message)")
        logger.warning("\(display): \(message)")
        if let runID, let catalog, !name.isEmpty {
            try catalog.recordFailure(
                runID: runID, repositoryID: repositoryID, source: source.remote, dir: dir, name: name,
                display: display, message: message)
        }
    }
}
