import ArchiverKit
import ArgumentParser
import Foundation
import Logging

/// `archiver backup`: one run over every source, to every target (or `--target NAME`).
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Back up every source to the targets.",
        discussion: """
            Unchanged files (same size, mtime, ctime and inode) are not opened. Each stored file is committed to \
            the catalog at once, so an interrupted run resumes where it stopped. Exits 3 when some files failed \
            (they are listed, and retried next run).
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Back up to this target only.")
    var target: String?

    @Flag(help: "Scan and compare only: report what would be stored, read and write nothing.")
    var dryRun = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() async throws {
        let (plan, config) = try MemoryBudget.plan(try options.load(), environment: ProcessInfo.processInfo.environment)
        if plan.limit != nil && !json { Terminal.note(plan.description) }
        let outcome = try await BackupRunner(
            config: config, target: target, dryRun: dryRun, style: ProgressStyle.forCommand(json: json)
        ).run()
        if outcome.partial { throw ExitCode(ExitStatus.partial) }
    }
}

/// One backup over the selected targets, as `backup` runs it once and `daemon` runs it on a schedule.
struct BackupRunner {
    let config: ArchiverConfig
    let target: String?
    var dryRun = false
    var style = ProgressStyle.log(every: 30)
    var logger = Logger(label: "archiver.backup")

    /// What the run came to over all targets.
    struct Outcome {
        /// Some target's run ended with failed files.
        var partial = false
        /// The runs' summaries, by target name.
        var summaries: [(target: String, summary: BackupSummary)] = []
    }

    var json: Bool { style == .json }

    /// Backs up to every selected target; an absent target is skipped with a notice when there are several.
    /// - Throws: `ArchiverError` for what stops a run (no target at all, quota, login needed, the catalog).
    func run() async throws -> Outcome {
        var outcome = Outcome()
        var attempted = 0
        for target in try Targets.selected(config, name: target) {
            try Task.checkCancellation()
            guard let opened = try await openOrSkip(target, config: config) else { continue }
            attempted += 1
            let catalog: Catalog? = opened.backend.persists ? try Catalog(path: config.catalog) : nil
            let lock = try catalog?.acquireRunLock(command: "backup")
            defer { lock?.release() }
            let meter = TransferMeter(limits: config.limits, zone: config.scheduleZone().zone)
            let progress = RunProgress(style: style, meter: meter, target: target.name)
            if style == .live && !dryRun {
                // A scan first (one stat per file, nothing read) gives the total an ETA; only people watching need it.
                let scan = try await BackupEngine(
                    config: config, catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id,
                    dryRun: true, logger: logger, meter: meter
                ).run()
                progress.expect(files: scan.wouldStore, bytes: scan.wouldStoreBytes)
            }
            let engine = BackupEngine(
                config: config, catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id,
                dryRun: dryRun, logger: logger, progress: progress, meter: meter)
            progress.start()
            let summary: BackupSummary
            do {
                summary = try await engine.run()
                progress.stop()
            } catch {
                progress.stop()
                throw error
            }
            report(summary, target: target)
            outcome.summaries.append((target.name, summary))
            if summary.status == .partial { outcome.partial = true }
            if let catalog, summary.runID != nil, summary.counts.stored > 0 {
                try await storeCatalogCopy(catalog, opened: opened)
            }
        }
        if attempted == 0 {
            throw ArchiverError(.targetUnavailable, "no target is available; nothing was backed up")
        }
        return outcome
    }

    func storeCatalogCopy(_ catalog: Catalog, opened: OpenedTarget) async throws {
        guard config.encryption, !config.recipients.isEmpty else { return }
        guard let key = try CatalogCopies.readMACKey(catalog: config.catalog) else {
            Terminal.warning("no catalog-copy key beside the catalog, so no catalog copy was stored; run `archiver key mac-key --identity key.txt --config FILE` where the identity lives")
            return
        }
        let copies = CatalogCopies(backend: opened.backend, repositoryID: opened.marker.id)
        let scratch = (config.catalog as NSString).deletingLastPathComponent
        let name = try await copies.upload(catalog: catalog, recipients: config.recipients, macKey: key, scratch: scratch)
        if !json { Terminal.note("catalog copy stored as \(name)") }
    }

    private func report(_ s: BackupSummary, target: ArchiverConfig.Target) {
        let c = s.counts
        if json {
            printJSON([
                "event": "summary", "target": target.name, "run": s.runID as Any, "status": s.status.rawValue, "files_seen": c.filesSeen,
                "stored": c.stored, "unchanged": c.unchanged, "deduplicated": c.deduplicated, "failed": c.failed,
                "bytes_read": c.bytesRead, "bytes_stored": c.bytesStored, "seconds": s.seconds,
                "dry_run": dryRun, "would_store": s.wouldStore, "would_store_bytes": s.wouldStoreBytes,
                "failures": s.failures.map { ["path": $0.path, "message": $0.message] },
                "skipped": s.skipped.map { ["path": $0.path, "message": $0.message] },
            ])
            return
        }
        for (path, message) in s.skipped { Terminal.note("skipped \(path): \(message)") }
        for (path, message) in s.failures { Terminal.note("FAILED \(path): \(message)") }
        if dryRun {
            Terminal.note("dry run on \(target.name): \(s.wouldStore) files (\(formatBytes(s.wouldStoreBytes))) would be stored, \(c.unchanged) unchanged")
            return
        }
        let rate = s.seconds > 0 ? Double(c.bytesRead) / 1e6 / s.seconds : 0
        Terminal.note(String(
            format: "%@: %lld stored, %lld unchanged, %lld deduplicated, %lld failed; read %@, stored %@; %.1f MB/s; %.1f s",
            "backup to \(target.name) \(s.status.rawValue)" as NSString, c.stored, c.unchanged, c.deduplicated, c.failed,
            formatBytes(c.bytesRead) as NSString, formatBytes(c.bytesStored) as NSString, rate, s.seconds))
    }
}
