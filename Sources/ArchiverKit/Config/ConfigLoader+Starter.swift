import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

extension ConfigLoader {
    /// Writes a commented starter config for `archiver init`.
    ///
    /// The file is created with mode 0600 (it may later hold Baidu's secret key) and never replaces an existing
    /// file. With recipients and at least one source it loads as written; the optional keys are included as
    /// comments with their defaults, to show what can be set.
    ///
    /// - Parameters:
    ///   - path: the file to create.
    ///   - backend: the backend spec of the single target (`local:/mnt/usb/archive`, `baidu:`).
    ///   - recipients: `age1…` recipients to encrypt to; with none, the file gets an empty list and a comment on
    ///     how to make a key, and will not load until one is added.
    ///   - catalog: the catalog path, absolute or relative to the config file's folder.
    ///   - sources: folders to back up and their remote folders.
    /// - Throws: `ArchiverError(.usage)` when the file exists or an argument is invalid, `.io` when writing fails.
    public static func writeStarter(
        to path: String,
        backend: String,
        recipients: [String],
        catalog: String,
        sources: [(local: String, remote: String)]
    ) throws {
        let text = try starterText(backend: backend, recipients: recipients, catalog: catalog, sources: sources)
        try createExclusively(path: path, contents: text)
    }

    /// The starter config's text, after checking the arguments with the loader's own rules.
    static func starterText(
        backend: String, recipients: [String], catalog: String, sources: [(local: String, remote: String)]
    ) throws -> String {
        func check<T>(_ name: String, _ value: String, _ parse: (String) throws(ValueProblem) -> T) throws -> T {
            do throws(ValueProblem) {
                return try parse(value)
            } catch {
                let shown = error.showsValue ? " '\(ConfigReporter.shown(value))'" : ""
                throw ArchiverError(.usage, "\(name)\(shown) \(error.text)")
            }
        }
        let spec = try check("backend", backend, ConfigValue.backendSpec)
        for recipient in recipients { _ = try check("recipient", recipient, ConfigValue.recipient) }
        if catalog.isEmpty { throw ArchiverError(.usage, "catalog must not be empty") }
        for source in sources {
            if source.local.isEmpty { throw ArchiverError(.usage, "a source's local folder must not be empty") }
            _ = try check("remote", source.remote, ConfigValue.remotePath)
        }

        var lines: [String] = [
            "# archiver configuration, written by 'archiver init'.",
            "# Relative paths are relative to this file's folder. Unknown keys are errors, so a typo cannot",
            "# silently change what is backed up. Environment variables (ARCHIVER_*, BDY_*) override keys.",
            "",
            "# The catalog records what is stored where. Keep it on a persistent volume.",
            "catalog: \(quoted(catalog))",
            "",
            "# Where backups go: local:/folder (a USB disk), baidu: (Baidu Netdisk) or mock:.",
            "# For several targets, replace 'backend:' with a mapping, and optionally ask for fewer copies:",
            "#   targets:",
            "#     cloud: \"baidu:\"",
            "#     usb: \"local:/mnt/usb/archive\"",
            "#   copies: 2",
            "backend: \(quoted(spec))",
            "",
            "# Files are encrypted with age to these public keys. Make a key with",
            "#   archiver key generate --output key.txt",
            "# and put the age1… public key it prints here. Keep key.txt itself off this machine:",
            "# only a restore needs it.",
        ]
        if recipients.isEmpty {
            lines.append("recipients: []")
        } else {
            lines.append("recipients:")
            lines += recipients.map { "  - \(quoted($0.trimmingCharacters(in: .whitespaces)))" }
        }
        lines += [
            "# recipients_file: recipients.txt     # more recipients, one age1… per line",
            "encryption: on                        # off stores plain (or gzip-only) files",
            "compression: auto                     # 0 (off), 1-9 (gzip level), auto or auto:N",
            "# naming: opaque                      # opaque hides file names; mirror keeps the source tree",
            "",
            "# Patterns excluded from every source.",
            "exclude: []",
            "",
            "# The folders to back up. 'remote' is the folder on the target: no leading or trailing '/'.",
        ]
        if sources.isEmpty {
            lines += [
                "sources: []",
                "#  - local: /hdd/photos",
                "#    remote: photos",
                "#    exclude: [\"*.tmp\", \"**/cache/**\"]",
            ]
        } else {
            lines.append("sources:")
            for source in sources {
                lines.append("  - local: \(quoted(source.local))")
                lines.append("    remote: \(quoted(source.remote))")
            }
            lines.append("    # exclude: [\"*.tmp\", \"**/cache/**\"]   # per source; also compression: and keep:")
        }
        lines += [
            "",
            "# When the daemon runs (5-field cron or @daily, @hourly, …) and in which time zone.",
            "schedule: \(quoted(ArchiverConfig.defaultSchedule))",
            "# timezone: Asia/Shanghai",
            "",
            "# Retention: which snapshots to keep, and for how many days a deleted file stays restorable.",
            "# keep: {last: 3, daily: 7, weekly: 4, monthly: 12, deleted_days: 90}",
            "",
            "# shutdown_timeout: 8s                 # how long 'docker stop' may take",
            "# memory_limit: 512MiB",
            "# files_in_flight: 2                   # small files stored at once (default: one per core, at most 4)",
            "# limits: {upload_kib_per_s: 2048, window: \"01:00-07:00\"}",
            "# log_level: info",
            "# log_file: archiver.log",
        ]
        let scheme = ArchiverConfig.Target(name: ArchiverConfig.defaultTargetName, spec: spec).scheme
        lines += [
            "",
            "# Baidu Netdisk: the app registered on Baidu's open platform. The keys may instead come from the",
            "# BDY_APP_KEY and BDY_SECRET_KEY environment variables, which keeps them out of this file.",
        ]
        let prefix = scheme == "baidu" ? "" : "# "
        lines += [
            "\(prefix)baidu:",
            "\(prefix)  app_name: e2bdy",
            "#  app_key: …",
            "#  secret_key: …",
            "#  token_file: baidu-token.json",
            "#  upload_concurrency: 2",
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar, so that no path or spec is misread (`:` and `#` stay text).
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Creates `path` with mode 0600 and writes `contents`; `O_EXCL` makes "never overwrite" hold even against
    /// a file that appears between a check and the write.
    private static func createExclusively(path: String, contents: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST {
                throw ArchiverError(
                    .usage,
                    "\(path) already exists; 'archiver init' does not overwrite a config: edit it, or move "
                        + "it away and run init again")
            }
            throw ArchiverError(.io, "cannot create \(path): \(String(cString: strerror(code)))")
        }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                unlink(path)
                throw ArchiverError(.io, "cannot write \(path): \(String(cString: strerror(code)))")
            }
            offset += n
        }
        guard fsync(fd) == 0 else {
            let code = errno
            unlink(path)
            throw ArchiverError(.io, "cannot write \(path): \(String(cString: strerror(code)))")
        }
    }
}
