import Foundation

/// Small files in flight: the walk hands each to a task, up to `filesInFlight` at once, and records the finished
/// ones in batches. Everything here runs on the run's own task; the file tasks only return `FileResult`s.
extension BackupEngine {
    /// Files up to this size are stored by concurrent tasks: each holds at most its bytes plus the encoder's
    /// buffers (about 2 MiB). Larger files go one at a time, their pipeline already busy on both cores.
    static let smallFileLimit: Int64 = 1 << 20
    /// A batch of finished files commits when it holds this many…
    static let batchFiles = 64
    /// …or when a file finishes this long after the batch's first did.
    static let batchAge = Duration.milliseconds(500)

    /// How many small files are stored at once: `files_in_flight:`, else one per core, at most 4.
    var filesInFlight: Int {
        config.filesInFlight ?? ArchiverConfig.defaultFilesInFlight
    }

    /// The run's side of the files in flight.
    struct InFlight {
        let width: Int
        /// Claims of this run's pending contents; nil when nothing is recorded (no dedup without a catalog).
        let claims: ContentClaims?
        var running = 0
        /// Sizes of running files that did not hash first: a file of one of these sizes waits for them, so that
        /// if it is a duplicate, the first one's digest is known (claimed) before it is hashed.
        var unhashedSizes: [Int64: Int] = [:]
        /// Sizes of files given to a task and not yet recorded or failed: a new file of one of these sizes hashes
        /// first, since it may duplicate one of them.
        var pendingSizes: [Int64: Int] = [:]
        /// Finished files waiting for the batch's commit, with the digest each one's content holds the claim on.
        var batch: [(job: FileJob, outcome: FileOutcome, owns: [UInt8]?)] = []
        var batchStarted: ContinuousClock.Instant?
        /// Duplicates waiting for the content they duplicate to be recorded, by digest.
        var parked: [[UInt8]: [(job: FileJob, outcome: FileOutcome)]] = [:]
        /// Files to store again: their duplicate's owner failed, or was recorded before they were parked.
        var redo: [FileJob] = []
        /// The first error that stops the run; once set, no new file starts.
        var stop: (any Error)?

        init(width: Int, claims: ContentClaims?) {
            self.width = width
            self.claims = claims
        }

        var isIdle: Bool { running == 0 && batch.isEmpty && redo.isEmpty && parked.isEmpty }

        mutating func settle(_ job: FileJob) {
            pendingSizes[job.size, default: 0] -= 1
            if pendingSizes[job.size] == 0 { pendingSizes[job.size] = nil }
        }
    }

    /// Everything a folder walk needs to hand out and record files.
    struct WalkContext {
        let source: ArchiverConfig.Source
        let runID: Int64?
        let runStartNs: Int64
        let scanner: SourceScanner
    }

    /// Starts a task for a small file once a slot is free (and no same-sized file that skipped hashing runs).
    func startSmall(
        _ job: FileJob, in group: inout ThrowingTaskGroup<FileResult, any Error>, flight: inout InFlight,
        context: WalkContext, state: inout RunState
    ) async throws {
        var job = job
        while flight.running >= flight.width
            || (flight.claims != nil && flight.unhashedSizes[job.size, default: 0] > 0)
        {
            try await collectOne(from: &group, flight: &flight, context: context, state: &state)
        }
        guard flight.stop == nil else { return }
        job.hashFirst = flight.claims != nil && flight.pendingSizes[job.size, default: 0] > 0
        if !job.hashFirst { flight.unhashedSizes[job.size, default: 0] += 1 }
        flight.pendingSizes[job.size, default: 0] += 1
        flight.running += 1
        progress?.storing(path: job.display, size: job.size)
        let claims = flight.claims
        let (scanner, runID) = (context.scanner, context.runID)
        group.addTask { [self] in await storeFile(job, scanner: scanner, runID: runID, claims: claims) }
    }

    /// Stores a large file on the run's own task, after every small file in flight is recorded.
    func storeLarge(
        _ job: FileJob, in group: inout ThrowingTaskGroup<FileResult, any Error>, flight: inout InFlight,
        context: WalkContext, state: inout RunState
    ) async throws {
        try await drain(&group, flight: &flight, context: context, state: &state)
        guard flight.stop == nil else { return }
        flight.pendingSizes[job.size, default: 0] += 1
        progress?.storing(path: job.display, size: job.size)
        let result = await storeFile(job, scanner: context.scanner, runID: context.runID, claims: nil)
        try accept(result, hashed: true, flight: &flight, context: context, state: &state)
        try commit(&flight, context: context, state: &state)
    }

    /// Waits for every file in flight and records them all; files parked or to redo are stored too, unless the run
    /// is stopping.
    func drain(
        _ group: inout ThrowingTaskGroup<FileResult, any Error>, flight: inout InFlight, context: WalkContext,
        state: inout RunState
    ) async throws {
        while true {
            if flight.stop == nil, !flight.redo.isEmpty {
                let job = flight.redo.removeFirst()
                try await startSmall(job, in: &group, flight: &flight, context: context, state: &state)
            } else if flight.running > 0 {
                try await collectOne(from: &group, flight: &flight, context: context, state: &state)
            } else if !flight.batch.isEmpty {
                try commit(&flight, context: context, state: &state)
            } else if flight.stop == nil, !flight.parked.isEmpty {
                // Not expected (an owner is always running or batched); store them rather than wait forever.
                flight.redo += flight.parked.values.flatMap { $0.map(\.job) }
                flight.parked = [:]
            } else {
                return
            }
        }
    }

    /// Waits for the next file task and takes its result in.
    private func collectOne(
        from group: inout ThrowingTaskGroup<FileResult, any Error>, flight: inout InFlight, context: WalkContext,
        state: inout RunState
    ) async throws {
        guard let result = try await group.next() else {
            flight.running = 0
            return
        }
        flight.running -= 1
        if !result.job.hashFirst {
            flight.unhashedSizes[result.job.size, default: 0] -= 1
            if flight.unhashedSizes[result.job.size] == 0 { flight.unhashedSizes[result.job.size] = nil }
        }
        try accept(result, hashed: result.job.hashFirst, flight: &flight, context: context, state: &state)
        if let started = flight.batchStarted,
            flight.batch.count >= Self.batchFiles || ContinuousClock.now - started >= Self.batchAge
        {
            try commit(&flight, context: context, state: &state)
        }
    }

    /// Sorts a finished file: into the batch, parked behind its duplicate, reported as failed, or noted as the
    /// error that stops the run.
    private func accept(
        _ result: FileResult, hashed: Bool, flight: inout InFlight, context: WalkContext, state: inout RunState
    ) throws {
        let job = result.job
        var owns: [UInt8]?
        if case .success(let outcome) = result.outcome, case .stored(let content, _) = outcome.content,
            let claims = flight.claims
        {
            let digest = content.plaintextSHA256
            if result.claimed.contains(digest) {
                owns = digest
            } else if !hashed, claims.claim(digest) {
                // Stored without hashing first: its digest is known only now, before any same-sized file is hashed.
                owns = digest
            }
        }
        for digest in result.claimed where digest != owns { release(digest, flight: &flight) }
        switch result.outcome {
        case .success(let outcome):
            if case .duplicate(let digest) = outcome.content {
                if flight.claims?.isHeld(digest) == true {
                    flight.parked[digest, default: []].append((job, outcome))
                } else {
                    // The content it duplicates was recorded (or failed) meanwhile: hashing again finds it.
                    flight.settle(job)
                    flight.redo.append(job)
                }
                return
            }
            if flight.batch.isEmpty { flight.batchStarted = .now }
            flight.batch.append((job, outcome, owns))
        case .failure(let error):
            flight.settle(job)
            if error is CancellationError || (error as? ArchiverError).map(Self.stopsTheRun) == true {
                if flight.stop == nil { flight.stop = error }
                return
            }
            try fail(
                source: job.source, runID: context.runID, dir: job.dir, name: BytePath.split(job.path).name,
                display: job.display, error: error, state: &state)
        }
    }

    /// Ends a claim; its parked duplicates go back to be stored.
    private func release(_ digest: [UInt8], flight: inout InFlight) {
        flight.claims?.release(digest)
        if let waiting = flight.parked.removeValue(forKey: digest) {
            for (job, _) in waiting where flight.stop == nil { flight.redo.append(job) }
            for (job, _) in waiting { flight.settle(job) }
        }
    }

    /// Records the batch in one transaction, then counts and reports each file; duplicates parked behind a content
    /// just recorded join the next batch.
    func commit(_ flight: inout InFlight, context: WalkContext, state: inout RunState) throws {
        while !flight.batch.isEmpty {
            let batch = flight.batch
            flight.batch = []
            flight.batchStarted = nil
            let results: [Result<Int64?, ArchiverError>]
            if let runID = context.runID, let catalog {
                do {
                    results = try catalog.recordStoredFiles(
                        runID: runID, repositoryID: repositoryID,
                        batch.map { record($0.job, $0.outcome, runID: runID) })
                } catch let error as ArchiverError where !Self.stopsTheRun(error) {
                    // A write that failed without stopping the run (an I/O error, say) fails the batch's files, each
                    // reported, rather than the entry the walk happens to be at.
                    results = batch.map { _ in .failure(error) }
                }
            } else {
                results = batch.map { _ in .success(nil) }
            }
            for ((job, outcome, owns), result) in zip(batch, results) {
                flight.settle(job)
                switch result {
                case .success(let contentID):
                    count(job, outcome, state: &state)
                    guard let owns else { continue }
                    flight.claims?.release(owns)
                    guard let contentID, let waiting = flight.parked.removeValue(forKey: owns) else { continue }
                    for (waitingJob, var waitingOutcome) in waiting {
                        waitingOutcome.content = .existing(contentID, deduplicated: true)
                        if flight.batch.isEmpty { flight.batchStarted = .now }
                        flight.batch.append((waitingJob, waitingOutcome, nil))
                    }
                case .failure(let error):
                    if let owns { release(owns, flight: &flight) }
                    try fail(
                        source: job.source, runID: context.runID, dir: job.dir, name: BytePath.split(job.path).name,
                        display: job.display, error: error, state: &state)
                }
            }
        }
    }

    /// The catalog record of a finished file.
    private func record(_ job: FileJob, _ outcome: FileOutcome, runID: Int64) -> FileRecord {
        let before = outcome.before
        let version = NewVersion(
            dir: job.dir, name: before.name, display: job.display, kind: .file, size: before.size,
            mtimeNs: before.mtimeNs, ctimeNs: before.ctimeNs, inode: before.inode, mode: before.mode, uid: before.uid,
            gid: before.gid, linkTarget: nil, contentID: nil)
        let content: FileRecord.FileContent
        switch outcome.content {
        case .unchanged(let versionID, _):
            return .confirmed(versionID: versionID)
        case .stored(let stored, let recipients):
            content = .new(
                NewContent(
                    repositoryID: repositoryID, runID: runID, plaintextSHA256: stored.plaintextSHA256,
                    plaintextSize: stored.plaintextSize, encrypted: stored.encrypted, recipients: recipients,
                    compression: stored.payload.catalogName, formatID: stored.formatID),
                objects: stored.objects.enumerated().map { index, segment in
                    NewObject(
                        segment: index, name: segment.name.value, storedSize: segment.storedSize,
                        storedMD5: segment.storedMD5, storedSHA256: segment.storedSHA256,
                        plaintextOffset: segment.plaintextOffset, plaintextSize: segment.plaintextSize)
                })
        case .existing(let id, _):
            content = .existing(id)
        case .empty, .duplicate:
            content = .empty
        }
        return .stored(
            source: job.source.remote, version: version, content: content,
            pendingUploadPath: outcome.usedLedger ? job.path : nil)
    }

    /// Adds a recorded file to the run's counts and tells the progress display.
    private func count(_ job: FileJob, _ outcome: FileOutcome, state: inout RunState) {
        state.counts.bytesRead += outcome.bytesRead
        state.counts.bytesStored += outcome.bytesStored
        switch outcome.content {
        case .unchanged:
            state.counts.unchanged += 1
        case .existing(_, true):
            state.counts.deduplicated += 1
            progress?.finished(path: job.display, outcome: "deduplicated")
        default:
            state.counts.stored += 1
            progress?.finished(path: job.display, outcome: "stored")
        }
    }
}
