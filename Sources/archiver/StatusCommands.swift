import ArchiverKit
import ArgumentParser
import Foundation

/// The repository id the catalog knows for each configured target (works with the disk unplugged).
private func repositories(_ config: ArchiverConfig, catalog: Catalog, target: String?) throws
    -> [(target: ArchiverConfig.Target, id: String)]
{
    let known = try catalog.repositories()
    return try Targets.selected(config, name: target).compactMap { target in
        known.last { $0.spec == target.spec }.map { (target, $0.id) }
    }
}

/// `archiver status`: the last run, what is stored, what keeps failing, and whether a target needs a login.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the last run, what is stored, files that failed 3 runs in a row, and login state.",
        discussion: """
            Exits 0 when the last run completed, 3 when it was partial, 9 when a target needs a new login,             1 when it failed or never ran.
            """)

    @OptionGroup var options: ConfigOptions

    @Flag(help: "Print JSON on stdout.")
    var json = false

    func run() async throws {
        let config = try options.load(identityNeeded: true)
        guard FileManager.default.fileExists(atPath: config.catalog) else {
            throw ArchiverError(.catalog, "there is no catalog at \(config.catalog) yet; run `archiver init` and `archiver backup`")
        }
        let catalog = try Catalog(path: config.catalog, readOnly: true)
        var worst: Int32 = 0
        var targets: [[String: Any]] = []
        let known = try repositories(config, catalog: catalog, target: nil)
        for (target, id) in known {
            let stats = try catalog.stats(repositoryID: id)
            let streaks = try catalog.failureStreaks(repositoryID: id, minimum: 3)
            let last = stats.lastRun
            let code: Int32 =
                switch last?.status {
                case .completed: 0
                case .partial: ExitStatus.partial
                case .running, .interrupted: 0
                default: ExitStatus.failure
                }
            // Asked of the backend without transferring anything: a login that Baidu refused, account facts.
            let backendStatus = await (try? Targets.backend(for: target, config: config))?.status() ?? BackendStatus()
            let pendingUploads = try catalog.pendingUploadCount(repositoryID: id)
            worst = max(worst, backendStatus.loginNeeded == nil ? code : ExitStatus.loginNeeded)
            targets.append([
                "target": target.name, "spec": target.spec, "repository": id,
                "last_run": last.map {
                    [
                        "id": $0.id, "status": $0.status.rawValue, "started": UTCStamp.iso8601($0.startedAt),
                        "finished": $0.finishedAt.map { UTCStamp.iso8601($0) } as Any, "stored": $0.counts.stored,
                        "failed": $0.counts.failed,
                    ] as [String: Any]
                } as Any,
                "files": stats.currentFiles, "file_bytes": stats.currentFileBytes, "objects": stats.objects,
                "stored_bytes": stats.storedBytes, "damaged_objects": stats.damagedObjects,
                "failing": streaks.map { ["path": $0.display, "runs": $0.count, "message": $0.message] },
                "login_needed": backendStatus.loginNeeded as Any, "notes": backendStatus.notes,
                "pending_uploads": pendingUploads,
            ])
            // With several targets: the current files another target holds and this one does not (yet).
            let others = known.filter { $0.id != id }.map(\.id)
            let missing = try catalog.missingFiles(repositoryID: id, comparedWith: others, sampleLimit: 5)
            if !others.isEmpty {
                targets[targets.count - 1]["missing"] = ["files": missing.files, "bytes": missing.bytes, "sample": missing.sample]
            }
            if !json {
                Terminal.output("target \(target.name) (\(target.spec)), repository \(id)")
                if let last {
                    let when = last.finishedAt.map { UTCStamp.iso8601($0) } ?? "not finished"
                    Terminal.output("  last run \(last.id): \(last.status.rawValue), \(when); \(last.counts.stored) stored, \(last.counts.failed) failed")
                } else {
                    Terminal.output("  no run yet")
                }
                Terminal.output("  \(stats.currentFiles) files (\(formatBytes(stats.currentFileBytes))) in \(stats.objects) objects (\(formatBytes(stats.storedBytes)) stored)")
                if stats.damagedObjects > 0 { Terminal.output("  \(stats.damagedObjects) damaged objects: the next backup stores those files again") }
                if let reason = backendStatus.loginNeeded { Terminal.output("  login needed: \(reason)") }
                for note in backendStatus.notes { Terminal.output("  \(note)") }
                if pendingUploads > 0 {
                    Terminal.output("  \(pendingUploads) unfinished uploads: the next backup resumes them")
                }
                for s in streaks { Terminal.output("  failing \(s.count) runs in a row: \(s.display): \(s.message)") }
                if missing.files > 0 {
                    Terminal.output("  missing \(missing.files) files (\(formatBytes(missing.bytes))) that other targets hold, e.g. \(missing.sample.joined(separator: ", ")); the next backup or `archiver copy` to it adds them")
                }
            }
        }
        var summary: [String: Any] = ["targets": targets, "exit": worst]
        if known.count > 1 {
            let under = try catalog.underCopiedFiles(repositoryIDs: known.map(\.id), copies: config.copies, sampleLimit: 5)
            summary["copies"] = ["wanted": config.copies, "files_below": under.files, "bytes_below": under.bytes, "sample": under.sample]
            if !json && under.files > 0 {
                Terminal.output("\(under.files) files (\(formatBytes(under.bytes))) have fewer than \(config.copies) copies, e.g. \(under.sample.joined(separator: ", "))")
            } else if !json {
                Terminal.output("every current file has at least \(config.copies) copies")
            }
        }
        if json { printJSON(summary) }
        if worst != 0 { throw ExitCode(worst) }
    }
}

/// `archiver ls`: what a run's state holds.
struct LsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List the files of the last completed run (or --at TIME).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "The state of the last run that finished at or before this time.")
    var at: String?

    @Option(help: "The target (default: the first).")
    var target: String?

    @Argument(help: "remote or remote/path to list under (default: everything).")
    var path: String?

    func run() throws {
        let config = try options.load(identityNeeded: true)
        let catalog = try Catalog(path: config.catalog, readOnly: true)
        guard let (_, id) = try repositories(config, catalog: catalog, target: target).first else {
            throw ArchiverError(.catalog, "the catalog knows no repository for this config's targets; run `archiver init`")
        }
        guard let run = try catalog.lastCompletedRun(repositoryID: id, finishedAtOrBefore: try at.map(parseTime)) else {
            throw ArchiverError(.usage, "no completed run" + (at == nil ? "" : " at that time"))
        }
        let (source, prefix) = path.map(RestoreEngine.selection) ?? (nil, nil)
        try catalog.state(repositoryID: id, asOfRun: run.id, source: source, pathPrefix: prefix).forEach { item in
            let v = item.version
            let mtime = UTCStamp.iso8601(Date(timeIntervalSince1970: Double(v.mtimeNs) / 1e9))
            let kind = v.kind == .dir ? "d" : v.kind == .symlink ? "l" : "-"
            let name = "\(v.source)/\(BytePath.display(v.path))" + (v.kind == .dir ? "/" : "")
            Terminal.output("\(kind) \(String(format: "%o", v.mode & 0o7777)) \(String(v.size).padding(toLength: 12, withPad: " ", startingAt: 0)) \(mtime) \(name)")
        }
    }
}

/// `archiver versions PATH`: every stored version of one file.
struct VersionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "versions", abstract: "List the stored versions of one path (restore one with `restore --version ID`).")

    @OptionGroup var options: ConfigOptions

    @Option(help: "The target (default: the first).")
    var target: String?

    @Argument(help: "remote/path/of/the/file")
    var path: String

    func run() throws {
        let config = try options.load(identityNeeded: true)
        let catalog = try Catalog(path: config.catalog, readOnly: true)
        guard let (_, id) = try repositories(config, catalog: catalog, target: target).first else {
            throw ArchiverError(.catalog, "the catalog knows no repository for this config's targets; run `archiver init`")
        }
        let (source, relative) = RestoreEngine.selection(path)
        guard let source, let relative else { throw ArchiverError(.usage, "give a file as remote/path, e.g. photos/2024/a.jpg") }
        let (dir, name) = BytePath.split(relative)
        let versions = try catalog.versions(repositoryID: id, source: source, dir: dir, name: name)
        guard !versions.isEmpty else { throw ArchiverError(.usage, "no versions of \(path)") }
        for v in versions {
            let state = v.endRun.map { "until run \($0)" } ?? "current"
            Terminal.output("version \(v.id): run \(v.firstRun) (\(UTCStamp.iso8601(v.firstRunStartedAt))), \(v.size) bytes, mtime \(UTCStamp.iso8601(Date(timeIntervalSince1970: Double(v.mtimeNs) / 1e9))), \(state)")
        }
    }
}
