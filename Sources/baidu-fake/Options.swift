import Foundation

/// The command line of `baidu-fake`, parsed by hand (the fake has no argument-parser dependency).
struct Options: Sendable {
    var dataDirectory: URL
    var port: UInt16 = 0
    var clientID = "test-app-key"
    var clientSecret = "test-secret-key"
    var appName = "e2bdy"
    var settings = Settings()
    var exitOnStdinEOF = false

    /// Why the command line was refused, or a request for the help text.
    enum Failure: Error {
        case help
        case invalid(String)
    }

    /// Parses `arguments` (without the program name).
    /// - Throws: `Failure.help` for `--help`, `Failure.invalid` with a message naming the bad option.
    static func parse(_ arguments: [String]) throws(Failure) -> Options {
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            switch argument {
            case "-h", "--help":
                throw .help
            case "--auto-approve", "--exit-on-stdin-eof":
                flags.insert(argument)
            case _ where valueOptions.contains(argument):
                guard index < arguments.count else { throw .invalid("\(argument) needs a value") }
                values[argument] = arguments[index]
                index += 1
            default:
                throw .invalid("unknown option \(argument)")
            }
        }
        guard let data = values["--data"] else { throw .invalid("--data DIR is required") }
        var options = Options(dataDirectory: URL(fileURLWithPath: data, isDirectory: true))
        func number(_ name: String) throws(Failure) -> Int? {
            guard let text = values[name] else { return nil }
            guard let value = Int(text), value >= 0 else { throw .invalid("\(name) needs a non-negative integer") }
            return value
        }
        if let port = try number("--port") {
            guard port <= Int(UInt16.max) else { throw .invalid("--port must be below 65536") }
            options.port = UInt16(port)
        }
        options.clientID = values["--client-id"] ?? options.clientID
        options.clientSecret = values["--client-secret"] ?? options.clientSecret
        options.appName = values["--app-name"] ?? options.appName
        var settings = Settings()
        if let vip = try number("--vip-type") {
            guard (0...2).contains(vip) else { throw .invalid("--vip-type must be 0, 1 or 2") }
            settings.vipType = vip
        }
        settings.sliceSizeOverride = try number("--slice-size").flatMap { $0 > 0 ? $0 : nil }
        settings.maxFileSizeOverride = try number("--max-file-size").flatMap { $0 > 0 ? $0 : nil }
        settings.maxSlices = try number("--max-slices") ?? settings.maxSlices
        settings.quotaTotal = try number("--quota") ?? settings.quotaTotal
        settings.tokenLifetime = try number("--token-lifetime") ?? settings.tokenLifetime
        settings.sessionLifetime = try number("--session-lifetime") ?? settings.sessionLifetime
        settings.deviceExpiresIn = try number("--device-expires-in") ?? settings.deviceExpiresIn
        settings.deviceInterval = try number("--device-interval") ?? settings.deviceInterval
        settings.rateLimit = try number("--rate-limit") ?? settings.rateLimit
        settings.autoApprove = flags.contains("--auto-approve")
        options.settings = settings
        options.exitOnStdinEOF = flags.contains("--exit-on-stdin-eof")
        return options
    }

    private static let valueOptions: Set<String> = [
        "--data", "--port", "--client-id", "--client-secret", "--app-name", "--vip-type", "--slice-size",
        "--max-file-size", "--max-slices", "--quota", "--token-lifetime", "--session-lifetime",
        "--device-expires-in", "--device-interval", "--rate-limit",
    ]

    static let help = """
        baidu-fake: a local fake of Baidu Netdisk's open API (OAuth device flow, xpan, PCS upload, dlink).
        One port serves every host; paths tell them apart.

        USAGE: baidu-fake --data DIR [options]

        OPTIONS
          --data DIR                 where committed files and upload slices live (required)
          --port N                   0 picks a free port (default 0); 127.0.0.1 only
          --client-id ID             the app key (default test-app-key)
          --client-secret SECRET     the secret key (default test-secret-key)
          --app-name NAME            writes are confined to /apps/NAME/ (default e2bdy)
          --vip-type 0|1|2           tier: 0 normal (4 MiB slices, 4 GB files), 1 VIP (16 MiB, 10 GB),
                                     2 SVIP (32 MiB, 20 GB); default 0
          --slice-size BYTES         override the tier's slice size
          --max-file-size BYTES      override the tier's largest file
          --max-slices N             most slices per file (default 1024)
          --quota BYTES              account size (default 2 TiB)
          --token-lifetime S         access token lifetime in seconds (default 2592000)
          --session-lifetime S       upload session lifetime in seconds (default 21600)
          --device-expires-in S      device code lifetime (default 300)
          --device-interval S        device polling interval; faster polls get slow_down (default 5)
          --auto-approve             device codes are approved as soon as they are issued
          --rate-limit N             requests per second per endpoint before errno 31034 (0 = off)
          --exit-on-stdin-eof        exit when stdin closes (tests pipe stdin)

        On ready it prints `baidu-fake listening on http://127.0.0.1:PORT`.

        ROUTES
          /oauth/2.0/device/code, /oauth/2.0/token            OAuth (device flow, refresh)
          /rest/2.0/xpan/file?method=precreate|create|list|filemanager|search
          /rest/2.0/xpan/multimedia?method=listall|filemetas
          /rest/2.0/xpan/nas?method=uinfo, /api/quota
          /rest/2.0/pcs/file?method=locateupload, /rest/2.0/pcs/superfile2?method=upload
          /file/<token>?... (dlink; needs access_token and User-Agent: pan.baidu.com) -> 302 /cdn/<token>

        CONTROL API (no auth, JSON)
          GET  /__fake/stats                 counters; POST /__fake/reset-stats
          POST /__fake/faults                {"endpoint": E, "error": X, "count": N}
               E: precreate create create_file (file creates only) superfile2 locateupload list listall
                  search filemetas filemanager uinfo quota download token any
               X: a number (errno / error_code in the endpoint's envelope), "http:503", "reset",
                  "slow:MS" (wait, then handle), "late:MS" (handle, then wait), "lost" (handle, then close
                  without an answer), "done:CODE" (handle, then answer error CODE), "expire_session",
                  "expire_token", or for token an OAuth error string
          POST /__fake/clear-faults
          POST /__fake/expire-access-tokens, /__fake/expire-sessions
          POST /__fake/issue-token           -> {"access_token", "refresh_token", "expires_in"}
          POST /__fake/config                {"vip_type", "quota_total", "slice_size", "max_file_size",
                                              "max_slices", "token_lifetime", "session_lifetime",
                                              "auto_approve", "rate_limit", "device_expires_in",
                                              "device_interval", "dlink_lifetime"}
          POST /__fake/put                   {"path", "source"} -> {"fs_id"}
          GET  /__fake/files                 [{"path", "size", "md5", "fs_id"}]
          POST /__fake/device/approve, /__fake/device/deny   {"user_code"}
        """
}

/// The settings the control API may change while the fake runs.
struct Settings: Sendable {
    var vipType = 0
    var sliceSizeOverride: Int?
    var maxFileSizeOverride: Int?
    var maxSlices = 1024
    var quotaTotal = 2 << 40
    var tokenLifetime = 2_592_000
    var sessionLifetime = 21_600
    var deviceExpiresIn = 300
    var deviceInterval = 5
    var rateLimit = 0
    var autoApprove = false
    /// How long a dlink (and its redirect) stays valid: 8 hours, then 31360.
    var dlinkLifetime = 8 * 3600

    /// The slice size of the tier, unless overridden: 4, 16 or 32 MiB.
    var sliceSize: Int {
        sliceSizeOverride ?? [4, 16, 32][vipType] << 20
    }

    /// The largest file of the tier, unless overridden: 4, 10 or 20 GB (powers of ten).
    var maxFileSize: Int {
        maxFileSizeOverride ?? [4, 10, 20][vipType] * 1_000_000_000
    }
}
