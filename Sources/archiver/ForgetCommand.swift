import ArchiverKit
import ArgumentParser
import Foundation
import Logging

/// `archiver forget`: applies the `keep:` policy to every target (or `--target NAME`).
struct ForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Drop old versions by the `keep:` policy and delete the objects nothing references any more.",
        discussion: """
            Per file: the current version always stays; `last: N` keeps the newest N versions; `hourly`, `daily`, \
            `weekly`, `monthly`, `yearly: N` keep the newest version in each of the N most recent hours … years that \
            have one; `deleted_days: N` keeps a deleted file's last version N days, then drops all of it. An object \
            another version still uses (deduplication) stays. Catalog rows go only after the target confirmed the \
            delete. On Baidu Netdisk deleted objects go to the account's recycle bin. See docs/retention.md.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Apply the policy on this target only.")
    var target: String?

    @Flag(help: "List what would go and the bytes it would free; change nothing.")
    var dryRun = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() async throws {
        let config = try options.load()
        let outcome = try await ForgetRunner(config: config, target: target, dryRun: dryRun, json: json).run()
        if outcome.failed { throw ExitCode(ExitStatus.partial) }
    }
}

/// One retention pass over the selected targets, as `forget` runs it and `daemon` runs it after each backup.
struct ForgetRunner {
    let config: ArchiverConfig
    let target: String?
    var dryRun = false
    var json = false
    var logger = Logger(label: "archiver.forget")

    struct Outcome {
        /// Some object could not be deleted (its rows stay; the next pass retries).
        var failed = false
    }

    /// - Throws: `ArchiverError` for what stops a pass (no target available, the catalog, a login needed).
    func run() async throws -> Outcome {
        var outcome = Outcome()
        guard RetentionEngine.hasPolicy(config) else {
            note("no `keep:` policy is configured, so every version is kept")
            return outcome
        }
        var attempted = 0
        for target in try Targets.selected(config, name: target) {
            try Task.checkCancellation()
            guard let opened = try await openOrSkip(target, config: config) else { continue }
            attempted += 1
            guard opened.backend.persists else {
                note("\(target.name) keeps nothing (\(target.spec)); nothing to forget")
                continue
            }
            let catalog = try Catalog(path: config.catalog)
            let lock = try catalog.acquireRunLock(command: dryRun ? "forget --dry-run" : "forget")
            defer { lock.release() }
            let engine = RetentionEngine(
                config: config, catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id,
                logger: logger)
            // JSON gives the summary only: no per-version walk.
            let listing: ((VersionRecord, Bool) -> Void)? = json ? nil : { version, contentGoes in
                Terminal.output(
                    "would forget \(version.display) version \(version.id) of "
                        + "\(UTCStamp.iso8601(version.firstRunStartedAt))" + (contentGoes ? " (its object goes)" : ""))
            }
            let summary = try await engine.run(dryRun: dryRun, listing: listing)
            report(summary, target: target)
            if !summary.failures.isEmpty { outcome.failed = true }
            if !dryRun && summary.versions > 0 {
                // The copy on the target would still list what was just forgotten.
                try await BackupRunner(config: config, target: target.name, style: json ? .json : .log(every: 30))
                    .storeCatalogCopy(catalog, opened: opened)
            }
        }
        if attempted == 0 {
            throw ArchiverError(.targetUnavailable, "no target is available; nothing was forgotten")
        }
        return outcome
    }

    private func note(_ text: String) {
        if !json { Terminal.note(text) }
    }

    private func report(_ s: ForgetSummary, target: ArchiverConfig.Target) {
        // Said on every pass against Baidu: the space comes back only once the recycle bin is emptied or expires.
        let recycleBin = target.scheme == "baidu"
        if json {
            printJSON([
                "event": "forget", "target": target.name, "dry_run": dryRun, "versions": s.versions,
                "contents": s.contents, "objects": s.objects, "bytes_freed": s.bytesFreed,
                "selection_seconds": s.selectionSeconds, "seconds": s.seconds, "recycle_bin": recycleBin,
                "failures": s.failures.map { ["object": $0.object, "message": $0.message] },
            ])
            return
        }
        for failure in s.failures {
            Terminal.note("FAILED to delete \(failure.object): \(failure.message); kept, retried next time")
        }
        let verb = dryRun ? "would forget" : "forgot"
        Terminal.note(
            "forget on \(target.name): \(verb) \(s.versions) versions; \(dryRun ? "would delete" : "deleted") "
                + "\(s.objects) objects of \(s.contents) contents, \(formatBytes(s.bytesFreed)) freed; "
                + String(format: "selection %.2f s, %.1f s in all", s.selectionSeconds, s.seconds))
        if recycleBin && s.objects > 0 {
            Terminal.note(
                "Baidu Netdisk keeps deleted objects in its recycle bin (about 10 days, 30 for members); the space returns when they leave it"
            )
        }
    }
}
