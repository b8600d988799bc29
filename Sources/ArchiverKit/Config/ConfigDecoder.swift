import Foundation
import Yams

/// Walks the YAML node tree of `config.yml` into a `ConfigDraft`, refusing unknown keys, wrong types and bad
/// values with the line they are on.
///
/// It reads `Yams.compose` nodes rather than decoding with `Codable` because the nodes keep their line, and
/// because every scalar is read as text and parsed here: YAML 1.1 would otherwise turn `on` into a boolean or
/// `0 21 * * *` into something else before the rules of each key are applied.
struct ConfigDecoder {
    let reporter: ConfigReporter
    /// The config file's folder, for relative paths.
    let base: String

    /// One `key: value` pair of a mapping, with the dotted path used in messages (`sources[0].remote`).
    struct Entry {
        let key: String
        let path: String
        let value: Node
        let line: Int
    }

    /// Decodes the document's root.
    /// - Parameter root: the composed document, nil for an empty file.
    /// - Returns: the settings of the file.
    /// - Throws: `ArchiverError(.usage)` naming the line.
    func decode(_ root: Node?) throws -> ConfigDraft {
        guard let root, !isNull(root) else {
            throw reporter.error(
                line: 1,
                "the file has no settings: it needs at least 'sources:' and 'backend:' (or 'targets:'); "
                    + "'archiver init' writes a starter config")
        }
        var draft = ConfigDraft()
        draft.rootLine = line(of: root)
        var backendLine: Int?
        var targetsLine: Int?
        for entry in try entries(of: root, path: "", allowed: ConfigKeys.root) {
            switch entry.key {
            case "catalog": draft.catalog = try path(entry)
            case "backend":
                if let targetsLine { throw bothTargetKeys(at: entry.line, other: targetsLine) }
                backendLine = entry.line
                draft.targetsOrigin = .file(line: entry.line)
                if let spec = try value(entry, ConfigValue.backendSpec) {
                    draft.targets = [ArchiverConfig.Target(name: ArchiverConfig.defaultTargetName, spec: spec)]
                }
            case "targets":
                if let backendLine { throw bothTargetKeys(at: entry.line, other: backendLine) }
                targetsLine = entry.line
                draft.targetsOrigin = .file(line: entry.line)
                draft.targets = try targets(entry)
            case "copies":
                draft.copies = try value(entry) { text throws(ValueProblem) in
                    try ConfigValue.integer(text, in: 1...Int.max)
                }
                draft.copiesOrigin = .file(line: entry.line)
            case "recipients":
                draft.recipientsOrigin = .file(line: entry.line)
                draft.recipients = []
                for item in try textList(entry) {
                    let recipient = try parse(item.text, key: item.path, line: item.line, ConfigValue.recipient)
                    if !draft.recipients.contains(recipient) { draft.recipients.append(recipient) }
                }
            case "recipients_file":
                draft.recipientsFile = try path(entry)
                draft.recipientsFileLine = entry.line
            case "identity": draft.identity = try path(entry)
            case "encryption":
                draft.encryption = try value(entry, ConfigValue.bool)
                draft.encryptionOrigin = .file(line: entry.line)
            case "compression": draft.compression = try value(entry, ConfigValue.compression)
            case "naming": draft.naming = try value(entry, ConfigValue.naming)
            case "exclude": draft.exclude = try patterns(entry)
            case "sources":
                draft.sourcesOrigin = .file(line: entry.line)
                draft.sources = try sources(entry)
            case "baidu": draft.baidu = try baidu(entry, secretKeyInFile: &draft.secretKeyInFile)
            case "schedule": draft.schedule = try value(entry, ConfigValue.cronSchedule)
            case "timezone": draft.timeZone = try value(entry, ConfigValue.timeZone)
            case "shutdown_timeout": draft.shutdownTimeout = try value(entry, ConfigValue.duration)
            case "memory_limit": draft.memoryLimit = try value(entry, ConfigValue.memoryLimit)
            case "files_in_flight":
                draft.filesInFlight = try value(entry) { text throws(ValueProblem) in
                    try ConfigValue.integer(text, in: ArchiverConfig.filesInFlightRange)
                }
            case "limits": draft.limits = try limits(entry)
            case "keep": draft.keep = try retention(entry)
            case "log_level": draft.logLevel = try value(entry, ConfigValue.logLevel)
            case "log_file": draft.logFile = try path(entry)
            default: preconditionFailure("key '\(entry.key)' is allowed but not decoded")
            }
        }
        return draft
    }

    private func bothTargetKeys(at line: Int, other: Int) -> ArchiverError {
        reporter.error(
            line: line,
            "'backend' and 'targets' cannot both be set (the other is on line \(other)): use 'backend:' for one "
                + "target or 'targets:' (name: spec) for several")
    }

    // MARK: Blocks

    private func targets(_ entry: Entry) throws -> [ArchiverConfig.Target] {
        guard !isNull(entry.value) else { return [] }
        let items = try entries(of: entry.value, path: entry.path, allowed: nil)
        guard !items.isEmpty else {
            throw reporter.error(
                line: entry.line, "targets is empty: name at least one, e.g. 'usb: \"local:/mnt/usb/archive\"'")
        }
        return try items.map { item in
            let name = try parse(item.key, key: "target name", line: item.line, ConfigValue.targetName)
            guard let spec = try value(item, ConfigValue.backendSpec) else {
                throw reporter.error(line: item.line, "\(item.path) has no backend spec: write e.g. 'local:/mnt/usb'")
            }
            return ArchiverConfig.Target(name: name, spec: spec)
        }
    }

    private func sources(_ entry: Entry) throws -> [SourceDraft] {
        guard !isNull(entry.value) else { return [] }
        var result: [SourceDraft] = []
        for (index, node) in try list(entry).enumerated() {
            let path = "sources[\(index)]"
            let itemLine = line(of: node, default: entry.line)
            guard case .mapping = node else {
                throw reporter.error(
                    line: itemLine,
                    "\(path) must be a mapping with 'local:' and 'remote:', not \(describe(node))")
            }
            var local: String?
            var remote: String?
            var draft = SourceDraft(local: "", remote: "", exclude: [], keep: .init(), line: itemLine)
            for field in try entries(of: node, path: path, allowed: ConfigKeys.source) {
                switch field.key {
                case "local": local = try self.path(field)
                case "remote": remote = try value(field, ConfigValue.remotePath)
                case "exclude": draft.exclude = try patterns(field)
                case "compression": draft.compression = try value(field, ConfigValue.compression)
                case "keep": draft.keep = try retention(field)
                default: preconditionFailure("key '\(field.key)' is allowed but not decoded")
                }
            }
            guard let local else {
                throw reporter.error(
                    line: itemLine, "\(path) has no 'local': name the folder to back up, e.g. 'local: /hdd/photos'")
            }
            guard let remote else {
                throw reporter.error(
                    line: itemLine, "\(path) has no 'remote': name its folder on the target, e.g. 'remote: photos'")
            }
            if let earlier = result.firstIndex(where: { $0.local == local }) {
                throw reporter.error(
                    line: itemLine,
                    "\(path).local '\(local)' is already backed up by sources[\(earlier)] (line "
                        + "\(result[earlier].line)): list each folder once")
            }
            if let earlier = result.firstIndex(where: { $0.remote == remote }) {
                throw reporter.error(
                    line: itemLine,
                    "\(path).remote '\(remote)' is already used by sources[\(earlier)] (line "
                        + "\(result[earlier].line)): each source needs its own remote folder")
            }
            draft.local = local
            draft.remote = remote
            result.append(draft)
        }
        return result
    }

    private func baidu(_ entry: Entry, secretKeyInFile: inout Bool) throws -> BaiduDraft? {
        guard !isNull(entry.value) else { return nil }
        var draft = BaiduDraft(origin: .file(line: entry.line))
        for field in try entries(of: entry.value, path: entry.path, allowed: ConfigKeys.baidu) {
            switch field.key {
            case "app_name":
                draft.appName = try value(field) { text throws(ValueProblem) in
                    // The name becomes a folder, /apps/<app name>/, on the user's netdisk.
                    guard !text.isEmpty else { throw ValueProblem("must not be empty") }
                    guard !text.contains("/") else { throw ValueProblem("must not contain '/'") }
                    return text
                }
            case "app_key": draft.appKey = try value(field, ConfigValue.secret)
            case "secret_key":
                draft.secretKey = try value(field, ConfigValue.secret)
                secretKeyInFile = draft.secretKey != nil
            case "token_file": draft.tokenFile = try path(field)
            case "upload_concurrency":
                draft.uploadConcurrency = try value(field) { text throws(ValueProblem) in
                    try ConfigValue.integer(text, in: ArchiverConfig.Baidu.uploadConcurrencyRange)
                }
            case "slice_size":
                draft.sliceSize = try value(field) { text throws(ValueProblem) in
                    let bytes = try ConfigValue.byteCount(text)
                    guard bytes >= 64 * 1024, bytes <= 32 << 20 else {
                        throw ValueProblem("must be between 64KiB and 32MiB (Baidu's largest slice)")
                    }
                    return Int(bytes)
                }
            case "max_object_size":
                draft.maxObjectSize = try value(field) { text throws(ValueProblem) in
                    let bytes = try ConfigValue.byteCount(text)
                    guard bytes >= 1 << 20 else { throw ValueProblem("must be at least 1MiB") }
                    return Int64(bytes)
                }
            case "endpoints":
                guard !isNull(field.value) else { continue }
                for endpoint in try entries(of: field.value, path: field.path, allowed: ConfigKeys.endpoints) {
                    guard let url = try value(endpoint, ConfigValue.url) else { continue }
                    switch endpoint.key {
                    case "oauth": draft.endpoints.oauth = url
                    case "api": draft.endpoints.api = url
                    default: draft.endpoints.upload = url
                    }
                }
            default: preconditionFailure("key '\(field.key)' is allowed but not decoded")
            }
        }
        return draft
    }

    private func limits(_ entry: Entry) throws -> ArchiverConfig.Limits {
        var limits = ArchiverConfig.Limits()
        guard !isNull(entry.value) else { return limits }
        for field in try entries(of: entry.value, path: entry.path, allowed: ConfigKeys.limits) {
            if field.key == "window" {
                limits.window = try value(field, ConfigValue.timeWindow)
            } else {
                // Zero would read as "no uploads at all"; leaving the key out is how to say "no cap".
                limits.uploadKiBPerSecond = try value(field) { text throws(ValueProblem) in
                    try ConfigValue.integer(text, in: 1...Int.max)
                }
            }
        }
        return limits
    }

    private func retention(_ entry: Entry) throws -> ArchiverConfig.Retention {
        var keep = ArchiverConfig.Retention()
        guard !isNull(entry.value) else { return keep }
        for field in try entries(of: entry.value, path: entry.path, allowed: ConfigKeys.keep) {
            let n = try value(field) { text throws(ValueProblem) in try ConfigValue.integer(text, in: 0...Int.max) }
            switch field.key {
            case "last": keep.last = n
            case "hourly": keep.hourly = n
            case "daily": keep.daily = n
            case "weekly": keep.weekly = n
            case "monthly": keep.monthly = n
            case "yearly": keep.yearly = n
            default: keep.deletedDays = n
            }
        }
        return keep
    }

    private func patterns(_ entry: Entry) throws -> [String] {
        guard !isNull(entry.value) else { return [] }
        var result: [String] = []
        for item in try textList(entry) {
            if item.text.isEmpty { throw reporter.error(line: item.line, "\(item.path) must not be an empty pattern") }
            if !result.contains(item.text) { result.append(item.text) }
        }
        return result
    }

    // MARK: Nodes

    /// The pairs of a mapping, after checking that it is one and that every key is allowed.
    /// - Parameters:
    ///   - node: the value that should be a mapping.
    ///   - path: its path, empty for the root.
    ///   - allowed: the keys allowed, or nil when keys are names the user picks (`targets:`).
    private func entries(of node: Node, path: String, allowed: [String]?) throws -> [Entry] {
        guard case .mapping(let mapping) = node else {
            let name = path.isEmpty ? "the file" : path
            throw reporter.error(
                line: line(of: node), "\(name) must be a mapping ('key: value' lines), not \(describe(node))")
        }
        return try mapping.map { key, value in
            let keyLine = line(of: key, default: line(of: node))
            guard case .scalar(let scalar) = key, !scalar.string.isEmpty else {
                throw reporter.error(line: keyLine, "a key must be a plain name, not \(describe(key))")
            }
            let name = scalar.string
            if let allowed, !allowed.contains(name) {
                let place = path.isEmpty ? "here" : "in \(path)"
                var message = "key '\(name)' is not known \(place)"
                if let hint = ConfigKeys.hint(for: name, allowed: allowed) {
                    message += "; \(hint)" + (hint.hasSuffix("?") ? "" : ".")
                } else {
                    message += "."
                }
                message += " Allowed: \(allowed.joined(separator: ", "))"
                throw reporter.error(line: keyLine, message)
            }
            return Entry(key: name, path: path.isEmpty ? name : "\(path).\(name)", value: value, line: keyLine)
        }
    }

    /// The items of a list value.
    private func list(_ entry: Entry) throws -> [Node] {
        guard case .sequence(let sequence) = entry.value else {
            let example =
                switch entry.key {
                case "sources": " of '- local: …' entries"
                case "recipients": " such as [age1…]"
                default: " such as [\"*.tmp\", \"**/cache/**\"]"
                }
            throw reporter.error(
                line: line(of: entry.value, default: entry.line),
                "\(entry.path) must be a list\(example), not \(describe(entry.value))")
        }
        return Array(sequence)
    }

    /// The items of a list whose items must be text.
    private func textList(_ entry: Entry) throws -> [(text: String, path: String, line: Int)] {
        guard !isNull(entry.value) else { return [] }
        return try list(entry).enumerated().map { index, node in
            let path = "\(entry.path)[\(index)]"
            let itemLine = line(of: node, default: entry.line)
            guard case .scalar(let scalar) = node, !isNull(node) else {
                throw reporter.error(line: itemLine, "\(path) must be text, not \(describe(node))")
            }
            return (scalar.string, path, itemLine)
        }
    }

    /// A scalar value parsed by `parse`; nil when the value is YAML null (`key:` with nothing after it), which
    /// counts as not set.
    private func value<T>(_ entry: Entry, _ parse: (String) throws(ValueProblem) -> T) throws -> T? {
        guard !isNull(entry.value) else { return nil }
        guard case .scalar(let scalar) = entry.value else {
            throw reporter.error(
                line: line(of: entry.value, default: entry.line),
                "\(entry.path) must be text (a single value), not \(describe(entry.value))")
        }
        return try self.parse(scalar.string, key: entry.path, line: line(of: entry.value, default: entry.line), parse)
    }

    /// A path value, resolved against the config file's folder.
    private func path(_ entry: Entry) throws -> String? {
        try value(entry) { text throws(ValueProblem) in try ConfigValue.path(text, base: base) }
    }

    private func parse<T>(
        _ text: String, key: String, line: Int, _ parse: (String) throws(ValueProblem) -> T
    ) throws -> T {
        do throws(ValueProblem) {
            return try parse(text)
        } catch {
            throw reporter.error(.file(line: line), key: key, value: text, error)
        }
    }

    private func isNull(_ node: Node) -> Bool {
        // Yams reads only plain scalars ('', ~, null) as null: a quoted "" stays an (empty) text.
        node.null != nil
    }

    private func line(of node: Node, default fallback: Int = 1) -> Int {
        node.mark?.line ?? fallback
    }

    /// The kind of a node, for "must be X, not Y".
    private func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .scalar(let scalar): isNull(node) ? "empty" : "the text '\(ConfigReporter.shown(scalar.string))'"
        case .alias: "an alias"
        }
    }
}
