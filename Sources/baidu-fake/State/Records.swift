import Crypto
import Foundation

/// A file or folder of the fake account.
struct Entry: Sendable {
    var fsID: Int
    var path: String
    var isDir: Bool
    var size = 0
    /// The true MD5 (files only), nil until first needed; shown only as the download's `Content-MD5`.
    var md5: String?
    /// The MD5 of the first 256 KiB, matched by rapid upload.
    var sliceMD5 = ""
    /// What list, create and filemetas call `md5`: the MD5 of the block list's JSON text, never the true MD5.
    var cloudMD5 = ""
    var blockList: [String] = []
    var blob: URL?
    var ctime: Int
    var mtime: Int
    var localCtime: Int
    var localMtime: Int

    var name: String { RemotePath.name(of: path) }
    var category: Int { isDir ? 6 : RemotePath.category(of: name) }

    /// The fields every listing shares.
    func listItem(nameKey: String = "server_filename") -> [String: JSON] {
        var item: [String: JSON] = [
            "fs_id": .int(fsID), "path": .string(path), nameKey: .string(name), "size": .int(size),
            "isdir": .int(isDir ? 1 : 0), "category": .int(category), "server_ctime": .int(ctime),
            "server_mtime": .int(mtime), "local_ctime": .int(localCtime), "local_mtime": .int(localMtime),
        ]
        if !isDir { item["md5"] = .string(cloudMD5) }
        return item
    }

    /// The cloud md5 of a block list: the MD5 of its compact JSON text.
    static func cloudMD5(of blockList: [String]) -> String {
        let text = "[" + blockList.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        return Data(text.utf8).md5Hex
    }
}

/// One uploaded slice of a session.
struct Slice: Sendable {
    var url: URL
    var md5: String
    var size: Int
}

/// An upload session between precreate and create.
struct UploadSession: Sendable {
    var id: String
    var path: String
    var size: Int
    var blockCount: Int
    var rtype: Int
    var localCtime: Int
    var localMtime: Int
    var expiresAt: Double
    var slices: [Int: Slice] = [:]
    /// Set while create assembles the slices, so a second create or a late slice cannot interfere.
    var committing = false
    var expired = false

    /// The indices 0..<blockCount still missing.
    var missing: [Int] {
        (0..<blockCount).filter { slices[$0] == nil }
    }
}

/// A device-code login in progress.
struct DeviceLogin: Sendable {
    enum Consent: Sendable { case pending, approved, denied }
    var userCode: String
    var expiresAt: Double
    var consent: Consent
    var lastPoll: Double?
    var used = false
}

/// A refresh token's life: usable once.
enum RefreshState: Sendable {
    case live
    case used
    case revoked
}

/// A download link handed out by filemetas (`/file/...`) or by its redirect (`/cdn/...`).
struct DownloadLink: Sendable {
    var fsID: Int
    var sign: String
    var expiresAt: Double
    /// A `/cdn/` link (the redirect's target) rather than a `/file/` dlink.
    var isData = false
    /// An injected "reset" fault: the data answer stops after half the body.
    var resetPending = false
}

/// Counters of the control API's `/__fake/stats`.
struct Stats: Sendable {
    var superfile2 = 0
    var precreate = 0
    var create = 0
    var rapidHits = 0
    var refresh = 0
    var tokenGrants = 0
    var requests = 0
    var bytesReceived = 0
    var throttled = 0
    var downloads = 0

    var json: JSON {
        [
            "superfile2": .int(superfile2), "precreate": .int(precreate), "create": .int(create),
            "rapid_hits": .int(rapidHits), "refresh": .int(refresh), "token_grants": .int(tokenGrants),
            "requests": .int(requests), "bytes_received": .int(bytesReceived), "throttled": .int(throttled),
            "downloads": .int(downloads),
        ]
    }
}

/// An injected fault from `/__fake/faults`.
struct Fault: Sendable {
    enum Kind: Sendable, Equatable {
        case code(Int)
        case http(Int)
        case reset
        case slow(milliseconds: Int)
        /// The call is carried out, then the answer waits: a client killed meanwhile never learns it succeeded.
        case late(milliseconds: Int)
        /// The call is carried out, then the connection closes without an answer (a reply lost on the way).
        case lost
        /// The call is carried out, then answered with this error code instead: what a client hears when it retries
        /// a `create` that timed out and is still being assembled (31355), just before the first one lands.
        case carriedOut(code: Int)
        case expireSession
        case expireToken
        /// For `token`: an OAuth error string such as "Trigger security policy".
        case oauth(String)
    }

    var endpoint: String
    var kind: Kind
    var remaining: Int

    /// Reads the control API's `error` value.
    static func kind(from value: JSON) -> Kind? {
        if let code = value.int, value.string == nil { return .code(code) }
        guard let text = value.string else { return nil }
        if let code = Int(text) { return .code(code) }
        if text == "reset" { return .reset }
        if text == "lost" { return .lost }
        if text.hasPrefix("done:"), let code = Int(text.dropFirst(5)) { return .carriedOut(code: code) }
        if text.hasPrefix("late:"), let milliseconds = Int(text.dropFirst(5)), milliseconds >= 0 {
            return .late(milliseconds: milliseconds)
        }
        if text == "expire_session" { return .expireSession }
        if text == "expire_token" { return .expireToken }
        if text.hasPrefix("http:"), let status = Int(text.dropFirst(5)), (400...599).contains(status) {
            return .http(status)
        }
        if text.hasPrefix("slow:"), let milliseconds = Int(text.dropFirst(5)), milliseconds >= 0 {
            return .slow(milliseconds: milliseconds)
        }
        return text.isEmpty ? nil : .oauth(text)
    }
}

/// A token bucket: `rate` requests per second, bursts up to `rate`.
struct TokenBucket: Sendable {
    var tokens: Double
    var last: Double

    mutating func take(rate: Int, now: Double) -> Bool {
        tokens = min(Double(rate), tokens + (now - last) * Double(rate))
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}

extension Data {
    /// The MD5 of these bytes as lowercase hex.
    var md5Hex: String {
        Insecure.MD5.hash(data: self).hex
    }
}
