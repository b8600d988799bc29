import Age
import Foundation

/// The environment variables that override config keys, for Docker setups where the file is shared and the
/// secrets or switches come from the container's environment.
enum ConfigEnvironment {
    /// Applies one variable's value to the draft; throws a problem to report against the variable.
    typealias Apply =
        @Sendable (
            _ value: String, _ draft: inout ConfigDraft, _ origin: ConfigOrigin, _ base: String
        ) throws(ValueProblem) -> Void

    /// The variables in the order they are applied: the original tool's names first, so that when both an old
    /// and a new name are set (`ENCRYPT_UPLOAD` and `ARCHIVER_ENCRYPTION`) the new one wins.
    static let variables: [(name: String, key: String, apply: Apply)] = [
        (
            "BDY_APP_KEY", "baidu.app_key",
            { value, draft, origin, _ throws(ValueProblem) in
                let key = try ConfigValue.secret(value)
                withBaidu(&draft, origin) { $0.appKey = key }
            }
        ),
        (
            "BDY_SECRET_KEY", "baidu.secret_key",
            { value, draft, origin, _ throws(ValueProblem) in
                let key = try ConfigValue.secret(value)
                withBaidu(&draft, origin) { $0.secretKey = key }
            }
        ),
        (
            "BDY_APP_NAME", "baidu.app_name",
            { value, draft, origin, _ throws(ValueProblem) in
                guard !value.contains("/") else { throw ValueProblem("must not contain '/'") }
                withBaidu(&draft, origin) { $0.appName = value }
            }
        ),
        (
            "ENCRYPT_UPLOAD", "encryption",
            { value, draft, origin, _ throws(ValueProblem) in
                draft.encryption = try ConfigValue.bool(value)
                draft.encryptionOrigin = origin
            }
        ),
        (
            "SYNC_INTERVAL", "schedule",
            { value, draft, _, _ throws(ValueProblem) in
                draft.schedule = try ConfigValue.cronSchedule(value)
            }
        ),
        (
            "ARCHIVER_CATALOG", "catalog",
            { value, draft, _, base throws(ValueProblem) in
                draft.catalog = try ConfigValue.path(value, base: base)
            }
        ),
        (
            "ARCHIVER_BACKEND", "backend",
            { value, draft, origin, _ throws(ValueProblem) in
                // The variable replaces the file's targets, so a `copies` meant for several targets no longer fits.
                draft.targets = [
                    ArchiverConfig.Target(
                        name: ArchiverConfig.defaultTargetName, spec: try ConfigValue.backendSpec(value))
                ]
                draft.targetsOrigin = origin
                draft.copies = nil
                draft.copiesOrigin = nil
            }
        ),
        (
            "ARCHIVER_RECIPIENTS", "recipients",
            { value, draft, origin, _ throws(ValueProblem) in
                var recipients: [X25519Recipient] = []
                for item in value.split(separator: ",") {
                    let text = item.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty { continue }
                    do throws(ValueProblem) {
                        let recipient = try ConfigValue.recipient(text)
                        if !recipients.contains(recipient) { recipients.append(recipient) }
                    } catch {
                        // Report the entry at fault, not the whole list.
                        let quoted = error.showsValue ? "'\(ConfigReporter.shown(text))' " : ""
                        throw ValueProblem(quoted + error.text, showsValue: false)
                    }
                }
                draft.recipients = recipients
                draft.recipientsOrigin = origin
            }
        ),
        (
            "ARCHIVER_IDENTITY", "identity",
            { value, draft, _, base throws(ValueProblem) in
                draft.identity = try ConfigValue.path(value, base: base)
            }
        ),
        (
            "ARCHIVER_ENCRYPTION", "encryption",
            { value, draft, origin, _ throws(ValueProblem) in
                draft.encryption = try ConfigValue.bool(value)
                draft.encryptionOrigin = origin
            }
        ),
        (
            "ARCHIVER_COMPRESSION", "compression",
            { value, draft, _, _ throws(ValueProblem) in
                draft.compression = try ConfigValue.compression(value)
            }
        ),
        (
            "ARCHIVER_NAMING", "naming",
            { value, draft, _, _ throws(ValueProblem) in
                draft.naming = try ConfigValue.naming(value)
            }
        ),
        (
            "ARCHIVER_SCHEDULE", "schedule",
            { value, draft, _, _ throws(ValueProblem) in
                draft.schedule = try ConfigValue.cronSchedule(value)
            }
        ),
        (
            "ARCHIVER_TIMEZONE", "timezone",
            { value, draft, _, _ throws(ValueProblem) in
                draft.timeZone = try ConfigValue.timeZone(value)
            }
        ),
        (
            "ARCHIVER_MEMORY_LIMIT", "memory_limit",
            { value, draft, _, _ throws(ValueProblem) in
                draft.memoryLimit = try ConfigValue.memoryLimit(value)
            }
        ),
        (
            "ARCHIVER_LOG_LEVEL", "log_level",
            { value, draft, _, _ throws(ValueProblem) in
                draft.logLevel = try ConfigValue.logLevel(value)
            }
        ),
    ]

    /// Applies every variable that is set and not empty (Compose files often pass `VAR=` for "unset").
    /// - Parameters:
    ///   - environment: the variables.
    ///   - draft: the settings read from the file.
    ///   - base: the config file's folder, for relative paths.
    ///   - reporter: builds the messages.
    /// - Throws: `ArchiverError(.usage)` naming the variable, the key it sets and what is allowed.
    static func apply(
        _ environment: [String: String], to draft: inout ConfigDraft, base: String, reporter: ConfigReporter
    ) throws {
        for variable in variables {
            guard let value = environment[variable.name], !value.trimmingCharacters(in: .whitespaces).isEmpty
            else { continue }
            let origin = ConfigOrigin.environment(variable.name)
            do throws(ValueProblem) {
                try variable.apply(value, &draft, origin, base)
            } catch {
                throw reporter.error(origin, key: variable.key, value: value, error)
            }
        }
    }

    /// Changes the draft's `baidu:` block, creating it when the file has none: the original tool configured
    /// Baidu with these variables alone.
    private static func withBaidu(
        _ draft: inout ConfigDraft, _ origin: ConfigOrigin, _ change: (inout BaiduDraft) -> Void
    ) {
        var block = draft.baidu ?? BaiduDraft(origin: origin)
        change(&block)
        draft.baidu = block
    }
}
