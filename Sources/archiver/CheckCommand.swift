import ArchiverKit
import ArgumentParser
import Foundation

/// `archiver check`: does the backend hold what the catalog says, and nothing else?
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Reconcile the catalog with the backend: missing and unreferenced objects, unfinished uploads.",
        discussion: """
            Read-only unless --repair. --repair marks missing objects so the next backup stores their files again, \
            and records an unfinished upload's object that landed with the name, size and SHA-256 of its plan; it \
            deletes nothing. --repair --delete-unreferenced then lists the unreferenced objects and deletes them. \
            Only <id>/data/ and <id>/files/ of this repository are considered: the marker, the catalog copies and \
            other repositories are never reported or touched. Exits 0 when clean, 4 while problems remain (after \
            a repair, run `archiver backup`), 7 when a backup holds the catalog.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "Check this target only.")
    var target: String?

    @Flag(help: "Mark missing objects for re-upload and adopt landed uploads; deletes nothing.")
    var repair = false

    @Flag(help: "With --repair: list the unreferenced objects, then delete them.")
    var deleteUnreferenced = false

    @Flag(name: .shortAndLong, help: "List every finding, not only the first \(CheckCommand.sampleSize) of each kind.")
    var verbose = false

    @Flag(help: "Print one JSON document on stdout, with every finding.")
    var json = false

    static let sampleSize = 10

    func validate() throws {
        if deleteUnreferenced && !repair {
            throw ValidationError("--delete-unreferenced needs --repair")
        }
    }

    func run() async throws {
        let config = try options.load()
        // Without --repair the catalog is opened read-only: nothing can be written.
        let catalog = try Catalog(path: config.catalog, readOnly: !repair)
        let lock = repair ? try catalog.acquireRunLock(command: "check --repair") : nil
        defer { lock?.release() }
        let output = JSONStream(enabled: json)
        output.write("{\"targets\":[")
        var clean = true
        for (index, target) in try Targets.selected(config, name: target).enumerated() {
            let opened = try await Targets.open(target, config: config)
            if index > 0 { output.write(",") }
            let header: [String: Any] = ["target": target.name, "spec": target.spec, "repository": opened.marker.id]
            output.write(String(JSONText.object(header).dropLast()) + ",\"findings\":[")
            if !json { Terminal.note("check \(target.name) (\(target.spec)), repository \(opened.marker.id)") }
            var checker = Checker(catalog: catalog, backend: opened.backend, repositoryID: opened.marker.id)
            checker.sampleSize = Self.sampleSize
            let findings = output.list()
            var report = try await checker.check(repair: repair) { finding in
                findings.item(Self.json(finding))
                if streams(finding.kind) { Terminal.note("  " + Self.line(finding)) }
            }
            output.write("],\"deleted\":[")
            if !json { summarize(report, target: target.name) }
            if deleteUnreferenced, report.counts[.unreferenced, default: 0] > 0 {
                if !json {
                    Terminal.note(
                        "deleting \(count(report.counts[.unreferenced, default: 0], "unreferenced object")) "
                            + "(\(formatBytes(report.bytes[.unreferenced, default: 0]))) listed above")
                }
                let deleted = output.list()
                try await checker.deleteUnreferenced(report: &report) { name, bytes in
                    deleted.item(["object": name, "bytes": bytes])
                    if !json { Terminal.note("  deleting \(name) (\(formatBytes(bytes)))") }
                }
                if !json {
                    Terminal.note("deleted \(count(report.deleted, "object")) (\(formatBytes(report.deletedBytes)))")
                }
            }
            output.write("],\"summary\":" + JSONText.object(Self.summary(report)) + "}")
            if !json {
                Terminal.note(
                    report.isClean
                        ? "check \(target.name): clean"
                        : "check \(target.name): \(count(report.remaining, "problem")) left"
                            + (repair ? "; run `archiver backup` to store the marked files again" : "; see --repair"))
            }
            clean = clean && report.isClean
        }
        output.write("],\"exit\":\(clean ? ExitStatus.success : ExitStatus.integrity)}\n")
        if !clean { throw ExitCode(ExitStatus.integrity) }
    }

    /// Whether findings of a kind are printed as they come: all with --verbose, unreferenced ones also when they
    /// are about to be deleted (so every deleted object was listed first).
    private func streams(_ kind: CheckFinding.Kind) -> Bool {
        !json && (verbose || (deleteUnreferenced && kind == .unreferenced))
    }

    private func summarize(_ report: CheckReport, target: String) {
        var parts = ["\(report.intact) objects intact"]
        for kind in CheckFinding.Kind.allCases {
            guard let count = report.counts[kind], count > 0 else { continue }
            parts.append("\(count) \(Self.title(kind)) (\(formatBytes(report.bytes[kind, default: 0])))")
        }
        if report.adopted > 0 { parts.append("\(report.adopted) adopted") }
        if report.markedForReupload > 0 { parts.append("\(report.markedForReupload) marked for re-upload") }
        Terminal.note("check \(target): " + parts.joined(separator: ", "))
        for kind in CheckFinding.Kind.allCases where !streams(kind) {
            let count = report.counts[kind, default: 0]
            for finding in report.samples where finding.kind == kind { Terminal.note("  " + Self.line(finding)) }
            if count > Self.sampleSize {
                Terminal.note("  … and \(count - Self.sampleSize) more \(Self.title(kind)) (--verbose lists all)")
            }
        }
    }

    static func title(_ kind: CheckFinding.Kind) -> String {
        switch kind {
        case .missing: "missing"
        case .unreferenced: "unreferenced"
        case .unfinished: "unfinished uploads"
        case .lost: "lost (past versions only)"
        }
    }

    static func line(_ finding: CheckFinding) -> String {
        var text = "\(finding.kind.rawValue): \(finding.object) (\(formatBytes(finding.bytes)))"
        if finding.kind == .unfinished, let file = finding.file { text += " of \(file)" }
        if let age = finding.age { text += ", \(formatAge(age)) old" }
        text += ": \(finding.detail)"
        if let action = finding.action { text += " [\(action.rawValue)]" }
        return text
    }

    static func json(_ finding: CheckFinding) -> [String: Any] {
        var object: [String: Any] = [
            "kind": finding.kind.rawValue, "object": finding.object, "bytes": finding.bytes,
            "detail": finding.detail, "remains": finding.remains,
        ]
        if let file = finding.file { object["file"] = file }
        if let age = finding.age { object["age_seconds"] = Int(age.rounded()) }
        if let action = finding.action { object["action"] = action.rawValue }
        return object
    }

    static func summary(_ report: CheckReport) -> [String: Any] {
        var summary: [String: Any] = [
            "intact": report.intact, "remaining": report.remaining, "clean": report.isClean,
            "adopted": report.adopted, "marked_for_reupload": report.markedForReupload, "deleted": report.deleted,
            "deleted_bytes": report.deletedBytes,
        ]
        for kind in CheckFinding.Kind.allCases {
            summary[kind.rawValue] = report.counts[kind, default: 0]
            summary[kind.rawValue + "_bytes"] = report.bytes[kind, default: 0]
        }
        return summary
    }
}

/// `1 object`, `2 objects`.
private func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

/// Seconds as people say them: 40 s, 12 min, 5 h, 3 d.
private func formatAge(_ seconds: TimeInterval) -> String {
    switch seconds {
    case ..<60: "\(Int(max(0, seconds))) s"
    case ..<3600: "\(Int(seconds / 60)) min"
    case ..<172_800: "\(Int(seconds / 3600)) h"
    default: "\(Int(seconds / 86_400)) d"
    }
}

/// One JSON document written to stdout piece by piece, so findings need not be held until the end.
private final class JSONStream: @unchecked Sendable {
    let enabled: Bool

    init(enabled: Bool) { self.enabled = enabled }

    func write(_ text: String) {
        if enabled { FileHandle.standardOutput.write(Data(text.utf8)) }
    }

    /// A JSON array being written: the caller writes its brackets, `item` the elements.
    func list() -> List { List(stream: self) }

    final class List: @unchecked Sendable {
        let stream: JSONStream
        var first = true

        init(stream: JSONStream) { self.stream = stream }

        func item(_ object: [String: Any]) {
            guard stream.enabled else { return }
            stream.write((first ? "\n" : ",\n") + JSONText.object(object))
            first = false
        }
    }
}

/// JSON text of one object, keys sorted.
private enum JSONText {
    static func object(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            return "{}"
        }
        return String(decoding: data, as: UTF8.self)
    }
}
