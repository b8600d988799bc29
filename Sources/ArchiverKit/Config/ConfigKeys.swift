import Foundation

/// The key names of `config.yml`, by block, and the hints given for a key that is not known.
///
/// The names are a user-facing interface: they appear in every config file and in every error message.
package enum ConfigKeys {
    /// Keys of the top level.
    package static let root = [
        "catalog", "backend", "targets", "copies", "recipients", "recipients_file", "identity", "encryption",
        "compression", "naming", "exclude", "sources", "baidu", "schedule", "timezone", "shutdown_timeout",
        "memory_limit", "files_in_flight", "limits", "keep", "log_level", "log_file",
    ]
    /// Keys of one entry of `sources:`.
    package static let source = ["local", "remote", "exclude", "compression", "keep"]
    /// Keys of the `baidu:` block.
    package static let baidu = [
        "app_name", "app_key", "secret_key", "token_file", "upload_concurrency", "slice_size", "max_object_size",
        "endpoints",
    ]
    /// Keys of `baidu: endpoints:`.
    package static let endpoints = ["oauth", "api", "upload"]
    /// Keys of `limits:`.
    package static let limits = ["upload_kib_per_s", "window"]
    /// Keys of `keep:` (top level or in a source).
    package static let keep = ["last", "hourly", "daily", "weekly", "monthly", "yearly", "deleted_days"]

    /// Every block with a name for messages, to point a key written in the wrong block to its place.
    static let blocks: [(place: String, keys: [String])] = [
        ("at the top level", root),
        ("in an entry of 'sources:'", source),
        ("in the 'baidu:' block", baidu),
        ("in 'baidu: endpoints:'", endpoints),
        ("in 'limits:'", limits),
        ("in a 'keep:' block", keep),
    ]

    /// Keys of the original tool's `config.yml` (and its environment names), mapped to what replaces them, so
    /// an old config pasted in gets a way forward rather than a bare "unknown".
    static let legacy: [String: String] = [
        "SYNC_PATH": "encrypt2bdy's SYNC_PATH is 'sources:' here, with the same local/remote entries",
        "BDY_APP_KEY":
            "encrypt2bdy's BDY_APP_KEY is 'app_key' in the 'baidu:' block here (or the BDY_APP_KEY variable)",
        "BDY_SECRET_KEY":
            "encrypt2bdy's BDY_SECRET_KEY is 'secret_key' in the 'baidu:' block here (or the BDY_SECRET_KEY variable)",
        "BDY_APP_NAME":
            "encrypt2bdy's BDY_APP_NAME is 'app_name' in the 'baidu:' block here (or the BDY_APP_NAME variable)",
        "BDY_USER_ACCESS_TOKEN": "tokens are not kept in the config any more but in the baidu 'token_file'",
        "BDY_USER_REFRESH_TOKEN": "tokens are not kept in the config any more but in the baidu 'token_file'",
        "BDY_USER_TOKEN_OUTDATE": "tokens are not kept in the config any more but in the baidu 'token_file'",
        "USER_PASSKEY":
            "archiver encrypts to age keys, not a passphrase: make one with 'archiver key generate --output key.txt' "
            + "and list its age1… public key under 'recipients:'",
        "ENCRYPT_UPLOAD": "encrypt2bdy's ENCRYPT_UPLOAD is 'encryption: on' or 'encryption: off' here",
        "SYNC_INTERVAL": "encrypt2bdy's SYNC_INTERVAL is 'schedule:' here",
    ]

    /// The hint for a key that is not allowed where it was written: the original tool's name, a key of another
    /// block, or a close spelling of an allowed key.
    /// - Parameters:
    ///   - key: the key as written.
    ///   - allowed: the keys allowed in this block.
    /// - Returns: a sentence to append, or nil.
    static func hint(for key: String, allowed: [String]) -> String? {
        if let old = legacy[key] {
            return old + " ('archiver import-e2bdy config.yml' converts a whole encrypt2bdy config)"
        }
        if let close = closest(to: key, among: allowed) { return "did you mean '\(close)'?" }
        for block in blocks where block.keys != allowed && block.keys.contains(key) {
            return "'\(key)' belongs \(block.place)"
        }
        return nil
    }

    /// The allowed key nearest to `key` in edit distance, when it is near enough to be a typo.
    /// - Parameters:
    ///   - key: the key as written.
    ///   - candidates: the allowed keys.
    /// - Returns: the best candidate, or nil when none is close.
    package static func closest(to key: String, among candidates: [String]) -> String? {
        // Case and dash-versus-underscore differences are the commonest slips; compare without them.
        let folded = key.lowercased().replacingOccurrences(of: "-", with: "_")
        let limit = folded.count <= 4 ? 1 : 2
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let d = editDistance(folded, candidate)
            if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        return best?.name
    }

    /// Edit distance with adjacent transpositions counted as one edit (optimal string alignment).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let s = Array(a)
        let t = Array(b)
        if s.isEmpty { return t.count }
        if t.isEmpty { return s.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: t.count + 1), count: s.count + 1)
        for i in 0...s.count { d[i][0] = i }
        for j in 0...t.count { d[0][j] = j }
        for i in 1...s.count {
            for j in 1...t.count {
                let cost = s[i - 1] == t[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, s[i - 1] == t[j - 2], s[i - 2] == t[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[s.count][t.count]
    }
}
