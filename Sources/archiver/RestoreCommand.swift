import Age
import ArchiverKit
import ArgumentParser
import Foundation
import Logging

/// `archiver restore`: the state of a run (or one version) back into a folder.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore files into a folder: the last completed run, a past time, or one version.",
        discussion: """
            Files land under DIR/<remote>/<path>. Paths are `remote` or `remote/path/inside`. Every chunk and the \
            plaintext hash are checked before a file is renamed into place; existing files are left alone unless \
            --overwrite. Without a catalog on this machine, the newest valid catalog copy on the target is used.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "The folder to restore into.")
    var to: String

    @Option(help: "Restore the state of the last run that finished at or before this time.")
    var at: String?

    @Option(help: "Restore one version (an id from `archiver versions PATH`).")
    var version: Int64?

    @Option(name: .shortAndLong, help: "The identity file (default: `identity:` from the config).")
    var identity: [String] = []

    @Option(help: "Restore from this target (default: the first that is available).")
    var target: String?

    @Flag(help: "Replace files that exist in the destination.")
    var overwrite = false

    @Argument(help: "What to restore: remote or remote/path (default: everything).")
    var paths: [String] = []

    func run() async throws {
        let config = try options.load(identityNeeded: true)
        let identities = try loadIdentities(identity, config: config)
        let opened = try await firstAvailable(config)
        var recoveredPath: String?
        defer { if let recoveredPath { unlink(recoveredPath) } }
        let catalog: Catalog
        if FileManager.default.fileExists(atPath: config.catalog) {
            catalog = try Catalog(path: config.catalog, readOnly: true)
        } else {
            let temp = NSTemporaryDirectory() + "archiver-recovered-\(UUID().uuidString).sqlite"
            let (recovered, name) = try await CatalogCopies(backend: opened.backend, repositoryID: opened.marker.id)
                .recover(identity: identities[0], to: temp)
            recoveredPath = temp
            catalog = recovered
            Terminal.note("no catalog at \(config.catalog); using the catalog copy \(name)")
        }
        let engine = RestoreEngine(
            catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id, identities: identities,
            logger: Logger(label: "archiver.restore"),
            temporaryFiles: { path, created in
                if created { Interrupts.register(path) } else { Interrupts.unregister(path) }
            }, filesInFlight: config.filesInFlight)
        let summary: RestoreSummary
        if let version {
            summary = try await engine.restoreVersion(id: version, to: to, overwrite: overwrite)
        } else {
            summary = try await engine.restore(
                to: to, point: try at.map { .at(try parseTime($0)) } ?? .latest, paths: paths, overwrite: overwrite)
        }
        for path in summary.skippedExisting { Terminal.note("exists, left alone (use --overwrite): \(path)") }
        for (path, message) in summary.failures { Terminal.note("FAILED \(path): \(message)") }
        Terminal.note(
            "restored \(summary.files) files, \(summary.symlinks) symlinks, \(summary.directories) folders (\(formatBytes(summary.bytes)))"
                + (summary.runID.map { " from run \($0)" } ?? "") + " into \(to)")
        if !summary.failures.isEmpty { throw ExitCode(ExitStatus.partial) }
    }

    private func firstAvailable(_ config: ArchiverConfig) async throws -> OpenedTarget {
        var lastError: (any Error)?
        for target in try Targets.selected(config, name: target) {
            do { return try await Targets.open(target, config: config) } catch { lastError = error }
        }
        throw lastError ?? ArchiverError(.targetUnavailable, "no target is configured")
    }
}

/// `archiver verify`: are the objects the catalog claims really there, intact?
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check stored objects: existence and size (default), stored hashes (--stored) or plaintext (--deep).",
        discussion: "Exits 4 when anything is missing or damaged; damaged objects are marked so the next backup stores those files again.")

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Download every object and compare its stored SHA-256 (no key needed).")
    var stored = false

    @Flag(help: "Decrypt and inflate every object and compare the plaintext SHA-256 (needs the identity).")
    var deep = false

    @Option(help: "Like --deep, for a random PERCENT of the contents.")
    var sample: Double?

    @Option(name: .shortAndLong, help: "The identity file for --deep/--sample (default: `identity:`).")
    var identity: [String] = []

    @Option(help: "Verify this target only.")
    var target: String?

    func run() async throws {
        let config = try options.load(identityNeeded: true)
        let catalog = try Catalog(path: config.catalog)
        let depth: VerifyDepth =
            deep ? .deep(percent: 100) : sample.map { .deep(percent: max(0, min(100, $0))) } ?? (stored ? .stored : .quick)
        let identities: [any AgeIdentity] = if case .deep = depth { try loadIdentities(identity, config: config) } else { [] }
        var bad = false
        for target in try Targets.selected(config, name: target) {
            let opened = try await Targets.open(target, config: config)
            let report = try await Verifier(catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id)
                .verify(depth: depth, identities: identities)
            for problem in report.problems { Terminal.note("  \(problem)") }
            Terminal.note("verify \(target.name): \(report.checked) objects checked, \(formatBytes(report.bytes)) read, \(report.problems.count) problems")
            bad = bad || !report.ok
        }
        if bad { throw ExitCode(ExitStatus.integrity) }
    }
}
