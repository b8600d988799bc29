package import Age
package import Foundation
package import Logging

/// Why a single value was refused: the end of a message that starts with the key and the value, e.g.
/// `must not end with '/'` in `sources[0].remote 'photos/' must not end with '/'`.
///
/// Parsers return only this tail so the same rule can be reported for a YAML line or an environment variable.
package struct ValueProblem: Error, Equatable {
    /// The explanation, starting with a verb (`is`, `must`).
    package var text: String
    /// Whether the value may be quoted back in the message; false for anything that may be a secret.
    package var showsValue: Bool

    /// Creates a problem.
    /// - Parameters:
    ///   - text: the explanation.
    ///   - showsValue: whether to quote the value in the message.
    package init(_ text: String, showsValue: Bool = true) {
        self.text = text
        self.showsValue = showsValue
    }
}

/// The parsers for single config values, shared by the YAML decoder, the environment overrides and the tests.
package enum ConfigValue {
    /// What a switch accepts, for messages.
    static let boolForms = "use on or off (also true/false, yes/no, 1/0)"
    /// What `compression` accepts, for messages.
    static let compressionForms = "use \(CompressionMode.accepted)"
    /// What a duration accepts, for messages.
    static let durationForms = "use a number with ms, s, m or h (500ms, 8s, 2m, 1h), or a bare number of seconds"
    /// What a size accepts, for messages.
    static let sizeForms = "use a whole number with B, KB/KiB, MB/MiB, GB/GiB (k, m, g mean KiB, MiB, GiB), or max"
    /// The smallest memory limit taken: below it the number was almost surely meant with a unit.
    static let minimumMemoryLimit = 1 << 20

    /// Parses a switch: `on`/`off`, `true`/`false`, `yes`/`no`, `1`/`0`, in any case.
    /// - Parameter text: the value.
    /// - Returns: the switch's state.
    /// - Throws: `ValueProblem` naming the accepted forms.
    package static func bool(_ text: String) throws(ValueProblem) -> Bool {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default: throw ValueProblem("is not a switch: \(boolForms)")
        }
    }

    /// Parses a whole number within a range.
    /// - Parameters:
    ///   - text: the value.
    ///   - range: the allowed values.
    /// - Returns: the number.
    /// - Throws: `ValueProblem` naming the range.
    package static func integer(_ text: String, in range: ClosedRange<Int>) throws(ValueProblem) -> Int {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValueProblem("is not a whole number: \(describe(range))")
        }
        guard range.contains(n) else { throw ValueProblem("is out of range: \(describe(range))") }
        return n
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == Int.max { return "use \(range.lowerBound) or more" }
        return "use \(range.lowerBound) to \(range.upperBound)"
    }

    /// Parses a compression setting with `CompressionMode(parsing:)`, reporting it in config terms.
    /// - Parameter text: the value.
    /// - Returns: the mode.
    /// - Throws: `ValueProblem` naming the accepted forms.
    package static func compression(_ text: String) throws(ValueProblem) -> CompressionMode {
        do {
            return try CompressionMode(parsing: text)
        } catch {
            throw ValueProblem("is not valid: \(compressionForms)")
        }
    }

    /// Parses `opaque` or `mirror`.
    /// - Parameter text: the value.
    /// - Returns: the naming.
    /// - Throws: `ValueProblem` naming both.
    package static func naming(_ text: String) throws(ValueProblem) -> ArchiverConfig.Naming {
        guard let naming = ArchiverConfig.Naming(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased())
        else {
            throw ValueProblem(
                "is not valid: use opaque (names reveal nothing) or mirror (names follow the source tree)")
        }
        return naming
    }

    /// Parses a log level by swift-log's names.
    /// - Parameter text: the value.
    /// - Returns: the level.
    /// - Throws: `ValueProblem` listing the levels.
    package static func logLevel(_ text: String) throws(ValueProblem) -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValueProblem("is not a log level: use one of \(names)")
        }
        return level
    }

    /// Parses a duration: `500ms`, `8s`, `2m`, `1h`, or a bare number of seconds.
    /// - Parameter text: the value.
    /// - Returns: the duration.
    /// - Throws: `ValueProblem` naming the accepted forms.
    package static func duration(_ text: String) throws(ValueProblem) -> Duration {
        let (number, unit) = splitNumber(text)
        let scale: Int64
        switch unit.lowercased() {
        case "ms": scale = 1
        case "", "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        default: throw ValueProblem("is not a duration: \(durationForms)")
        }
        guard let n = Int64(number), n >= 0 else { throw ValueProblem("is not a duration: \(durationForms)") }
        let (ms, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw ValueProblem("is too long") }
        return .milliseconds(ms)
    }

    /// Parses a byte count: a whole number with an optional unit (`B`, `KB`, `KiB`, `k`, …, `GiB`), in any case.
    ///
    /// `KB`, `MB` and `GB` are decimal as written; the one-letter forms are binary, as Docker's `--memory` reads
    /// them, and so are Kubernetes' `Ki`, `Mi`, `Gi`.
    /// - Parameter text: the value.
    /// - Returns: the number of bytes.
    /// - Throws: `ValueProblem` naming the accepted forms.
    package static func byteCount(_ text: String) throws(ValueProblem) -> Int {
        let (number, unit) = splitNumber(text)
        let scale: Int
        switch unit.lowercased() {
        case "", "b": scale = 1
        case "kb": scale = 1000
        case "mb": scale = 1000 * 1000
        case "gb": scale = 1000 * 1000 * 1000
        case "k", "ki", "kib": scale = 1 << 10
        case "m", "mi", "mib": scale = 1 << 20
        case "g", "gi", "gib": scale = 1 << 30
        default: throw ValueProblem("is not a size: \(sizeForms)")
        }
        guard let n = Int(number), n >= 0 else { throw ValueProblem("is not a size: \(sizeForms)") }
        let (bytes, overflow) = n.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw ValueProblem("is too large") }
        return bytes
    }

    /// Parses a memory limit: a byte count of at least 1 MiB, or `max` for none.
    /// - Parameter text: the value.
    /// - Returns: the limit.
    /// - Throws: `ValueProblem` naming the accepted forms.
    package static func memoryLimit(_ text: String) throws(ValueProblem) -> ArchiverConfig.MemoryLimit {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "max" { return .max }
        let bytes = try byteCount(text)
        guard bytes >= minimumMemoryLimit else {
            // A bare "512" is 512 bytes; the user almost surely meant 512MiB.
            throw ValueProblem("is too small: use at least 1MiB (a bare number is bytes; write 512MiB, 1GiB)")
        }
        return .bytes(bytes)
    }

    /// Splits `512MiB` into `512` and `MiB`, ignoring spaces around and between them.
    private static func splitNumber(_ text: String) -> (number: Substring, unit: Substring) {
        let t = text.trimmingCharacters(in: .whitespaces)[...]
        let digitsEnd = t.firstIndex { !$0.isASCII || !$0.isNumber } ?? t.endIndex
        let unit = t[digitsEnd...].drop { $0 == " " }
        return (t[..<digitsEnd], unit)
    }

    /// Parses a daily window `HH:MM-HH:MM` whose end may be past midnight.
    /// - Parameter text: the value.
    /// - Returns: the window.
    /// - Throws: `ValueProblem` naming the form.
    package static func timeWindow(_ text: String) throws(ValueProblem) -> ArchiverConfig.TimeWindow {
        let form = "is not a time window: use HH:MM-HH:MM, for example 01:00-07:00 (23:00-06:00 wraps midnight)"
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = minuteOfDay(parts[0]), let end = minuteOfDay(parts[1]) else {
            throw ValueProblem(form)
        }
        guard start != end else { throw ValueProblem("is empty: the start and the end must differ") }
        return ArchiverConfig.TimeWindow(startMinute: start, endMinute: end)
    }

    private static func minuteOfDay(_ text: Substring) -> Int? {
        let hm = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        guard hm.count == 2, hm[0].count <= 2, hm[1].count == 2,
            hm.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
            let h = Int(hm[0]), let m = Int(hm[1]), h < 24, m < 60
        else { return nil }
        return h * 60 + m
    }

    /// Parses a schedule: five cron fields or a macro, checked field by field, and refused when no date matches.
    /// - Parameter text: the value.
    /// - Returns: the schedule.
    /// - Throws: `ValueProblem` naming the field, the token and what it allows, or the accepted forms.
    package static func cronSchedule(_ text: String) throws(ValueProblem) -> CronSchedule {
        try CronSchedule(parsing: text)
    }

    /// Checks a schedule as `cronSchedule` does.
    /// - Parameter text: the value.
    /// - Returns: the schedule, trimmed, with runs of spaces collapsed and a macro lowercased.
    /// - Throws: `ValueProblem` naming the field, the token and what it allows, or the accepted forms.
    package static func schedule(_ text: String) throws(ValueProblem) -> String {
        try cronSchedule(text).expression
    }

    /// Parses an IANA time zone name (`Asia/Shanghai`, `UTC`).
    /// - Parameter text: the value.
    /// - Returns: the zone.
    /// - Throws: `ValueProblem` when the system does not know the name.
    package static func timeZone(_ text: String) throws(ValueProblem) -> TimeZone {
        let name = text.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, let zone = TimeZone(identifier: name) else {
            throw ValueProblem("is not a known time zone: use an IANA name such as Asia/Shanghai, Europe/Berlin or UTC")
        }
        return zone
    }

    /// Checks a remote folder by the original tool's rules, plus a ban on `.` and `..` components.
    ///
    /// The remote is a folder inside the target: an absolute or dotted path would escape or alias the app folder
    /// on Baidu, and an empty component would make two spellings of one folder.
    /// - Parameter text: the value.
    /// - Returns: the remote, unchanged.
    /// - Throws: `ValueProblem` naming the broken rule.
    package static func remotePath(_ text: String) throws(ValueProblem) -> String {
        if text.isEmpty { throw ValueProblem("must not be empty: name a folder on the target, e.g. photos") }
        if text.hasPrefix("/") {
            throw ValueProblem("must not start with '/': it is a folder inside the target, e.g. photos")
        }
        if text.hasPrefix("./") { throw ValueProblem("must not start with './': write the folder name, e.g. photos") }
        if text.hasSuffix("/") { throw ValueProblem("must not end with '/'") }
        if text.contains("//") { throw ValueProblem("must not contain '//'") }
        if text.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) {
            throw ValueProblem("must not contain a '.' or '..' component")
        }
        return text
    }

    /// Checks a backend spec's form (`scheme:argument` or a bare scheme); whether the scheme exists is the
    /// registry's question, asked when the backend is made.
    /// - Parameter text: the value.
    /// - Returns: the spec, trimmed.
    /// - Throws: `ValueProblem` showing the form.
    package static func backendSpec(_ text: String) throws(ValueProblem) -> String {
        let spec = text.trimmingCharacters(in: .whitespaces)
        let scheme = spec.firstIndex(of: ":").map { spec[..<$0] } ?? spec[...]
        guard let first = scheme.first, first.isASCII, first.isLetter,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else {
            throw ValueProblem(
                "is not a backend spec: write scheme:argument, e.g. local:/mnt/usb/archive, baidu: or mock:")
        }
        return spec
    }

    /// Checks a target name: it appears in the catalog and on the command line, so it stays plain.
    /// - Parameter text: the name.
    /// - Returns: the name.
    /// - Throws: `ValueProblem` naming the allowed characters.
    package static func targetName(_ text: String) throws(ValueProblem) -> String {
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw ValueProblem("is not a valid target name: use letters, digits, '-', '_' and '.'")
        }
        return text
    }

    /// Parses an age X25519 recipient (`age1…`).
    ///
    /// A pasted secret key is refused without quoting it, so the secret does not end up in logs.
    /// - Parameter text: the value.
    /// - Returns: the recipient.
    /// - Throws: `ValueProblem` explaining what a recipient looks like.
    package static func recipient(_ text: String) throws(ValueProblem) -> X25519Recipient {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.uppercased().hasPrefix("AGE-SECRET-KEY-") {
            throw ValueProblem(
                "is an age secret key, not a recipient: put only its public key (the age1… line) here, and keep "
                    + "the secret key off this machine",
                showsValue: false)
        }
        do {
            return try X25519Recipient(t)
        } catch let error as AgeError {
            throw ValueProblem(
                "is not an age recipient (\(error.message)): use the age1… public key that "
                    + "'archiver key generate' or age-keygen prints")
        } catch {
            throw ValueProblem("is not an age recipient: use an age1… public key")
        }
    }

    /// Checks a key or password: it must not be empty (leaving the key out is how to say "not here"), and it is
    /// never quoted back.
    /// - Parameter text: the value.
    /// - Returns: the value, unchanged.
    /// - Throws: `ValueProblem` for an empty value.
    package static func secret(_ text: String) throws(ValueProblem) -> String {
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValueProblem(
                "must not be empty: leave the key out to take it from the environment", showsValue: false)
        }
        return text
    }

    /// Parses an endpoint URL: `http` or `https` with a host.
    /// - Parameter text: the value.
    /// - Returns: the URL.
    /// - Throws: `ValueProblem` showing the form.
    package static func url(_ text: String) throws(ValueProblem) -> URL {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let url = URL(string: t), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw ValueProblem("is not an http(s) URL: write it like https://pan.baidu.com")
        }
        return url
    }

    /// Resolves a path against the config file's folder and normalises it.
    /// - Parameters:
    ///   - text: the path as written.
    ///   - base: the config file's folder.
    /// - Returns: the absolute path.
    /// - Throws: `ValueProblem` for an empty path or one starting with `~`, which nothing here expands.
    package static func path(_ text: String, base: String) throws(ValueProblem) -> String {
        if text.isEmpty { throw ValueProblem("must not be empty") }
        if text.hasPrefix("~") {
            throw ValueProblem("starts with '~', which is not expanded here: write the full path")
        }
        return normalized(text.hasPrefix("/") ? text : base + "/" + text)
    }

    /// Removes empty, `.` and `..` components of an absolute path by text alone: the folders may not exist yet
    /// (an unplugged USB disk), so nothing here asks the file system or follows links.
    /// - Parameter path: an absolute path.
    /// - Returns: the normalised path, `/` at the least.
    package static func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }
}
