import Age
import ArchiverKit
import ArgumentParser
import Backends
import Foundation

/// `--config FILE` (or `ARCHIVER_CONFIG`), shared by every command that works on a repository.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The config file (default: $ARCHIVER_CONFIG).")
    var config: String?

    /// Loads and validates the config, printing its warnings. The note that the identity is readable here
    /// matters only for commands a daemon runs (backup); restore and deep verify need the identity.
    func load(identityNeeded: Bool = false) throws -> ArchiverConfig {
        let environment = ProcessInfo.processInfo.environment
        guard let path = config ?? environment["ARCHIVER_CONFIG"], !path.isEmpty else {
            throw ArchiverError(.usage, "no config: pass --config FILE or set ARCHIVER_CONFIG (`archiver init --config FILE` writes one)")
        }
        Backends.registerAll()
        let loaded = try ConfigLoader.load(path: path, environment: environment)
        try LogOutput.configure(level: loaded.config.logLevel, file: loaded.config.logFile)
        for warning in loaded.warnings where !(identityNeeded && warning.contains("identity")) {
            Terminal.warning(warning)
        }
        return loaded.config
    }
}

/// Reads identities for restore and deep verify: `-i` files, else the config's `identity:`.
func loadIdentities(_ files: [String], config: ArchiverConfig) throws -> [X25519Identity] {
    let paths = files.isEmpty ? (config.identity.map { [$0] } ?? []) : files
    guard !paths.isEmpty else {
        throw ArchiverError(.usage, "this needs the identity: pass -i key.txt or set `identity:` in the config")
    }
    return try paths.flatMap { try KeyFiles.identities(at: $0) }
}

/// Parses `--at` times: ISO 8601 with or without zone (`2026-11-27T21:00:00Z`, `2026-11-27 21:00`), or a date.
func parseTime(_ text: String) throws -> Date {
    let iso = ISO8601DateFormatter()
    if let date = iso.date(from: text) { return date }
    iso.formatOptions.insert(.withFractionalSeconds)
    if let date = iso.date(from: text) { return date }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = .current
    for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
        formatter.dateFormat = format
        if let date = formatter.date(from: text) {
            // A bare date means the end of that day.
            return format == "yyyy-MM-dd" ? date.addingTimeInterval(86_399) : date
        }
    }
    throw ArchiverError(.usage, "'\(text)' is not a time: use 2026-11-27, 2026-11-27 21:00 or 2026-11-27T21:00:00Z")
}

/// Formats byte counts for people.
func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}

/// Prints a JSON object on stdout (for `--json`).
func printJSON(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
        Terminal.output(String(decoding: data, as: UTF8.self))
    }
}
