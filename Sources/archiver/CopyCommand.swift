import ArchiverKit
import ArgumentParser
import Foundation
import Logging

/// `archiver copy --from A --to B`: seeds one target from another's stored objects.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Send the stored objects of one target's last completed run to another target.",
        discussion: """
            No source file is read or encrypted again: each object is read from --from, checked against its \
            recorded SHA-256, and written to --to under its naming; --to's catalog rows then match --from's state \
            for what was copied. What --to already holds is skipped, and a killed copy resumes where it stopped. \
            Use it to seed a slow upload (Baidu Netdisk) from the USB disk. See docs/retention.md.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "The target to read from.")
    var from: String

    @Option(help: "The target to write to.")
    var to: String

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    func run() async throws {
        let config = try options.load()
        guard from != to else { throw ArchiverError(.usage, "--from and --to name the same target") }
        let source = try await Targets.open(try Targets.selected(config, name: from)[0], config: config)
        let destination = try await Targets.open(try Targets.selected(config, name: to)[0], config: config)
        guard source.backend.persists, destination.backend.persists else {
            throw ArchiverError(.usage, "copy needs targets that keep objects; `mock:` keeps nothing (use mock:DIR)")
        }
        let catalog = try Catalog(path: config.catalog)
        let lock = try catalog.acquireRunLock(command: "copy")
        defer { lock.release() }
        let summary = try await TargetCopier(
            config: config, catalog: catalog, from: source, to: destination, logger: Logger(label: "archiver.copy")
        ).run()
        report(summary)
        if summary.copied > 0 {
            try await BackupRunner(config: config, target: to, style: json ? .json : .log(every: 30))
                .storeCatalogCopy(catalog, opened: destination)
        }
        if !summary.failures.isEmpty { throw ExitCode(ExitStatus.partial) }
    }

    private func report(_ s: CopySummary) {
        if json {
            printJSON([
                "event": "copy", "from": from, "to": to, "run": s.runID, "source_run": s.sourceRunID,
                "status": s.status.rawValue, "copied": s.copied, "reused": s.reused, "unchanged": s.unchanged,
                "objects": s.objects, "adopted": s.adopted, "bytes": s.bytes, "ended": s.ended, "seconds": s.seconds,
                "failures": s.failures.map { ["path": $0.path, "message": $0.message] },
            ])
            return
        }
        for (path, message) in s.failures { Terminal.note("FAILED \(path): \(message)") }
        Terminal.note(
            String(
                format:
                    "copy %@ → %@ %@ (state of run %lld): %lld files copied (%lld objects, %@), %lld already held, %lld unchanged, %lld found from an earlier copy, %lld failed; %.1f s",
                from as NSString, to as NSString, s.status.rawValue as NSString, s.sourceRunID, s.copied, s.objects,
                formatBytes(s.bytes) as NSString, s.reused, s.unchanged, s.adopted, Int64(s.failures.count), s.seconds))
    }
}
