public import Age
public import Foundation
public import Logging

/// The whole configuration of one archiver installation, decoded once from `config.yml` (and the environment)
/// into typed, validated values.
///
/// Every path is absolute: relative paths in the file were resolved against the config file's folder, so the
/// rest of the program never needs to know where the config came from. Optional blocks are replaced by their
/// defaults, and per-source overrides are already merged into each `Source`.
public struct ArchiverConfig: Sendable {
    /// The config file, as an absolute path.
    public var configPath: String
    /// The config file's folder: the base for relative paths and the default home of the catalog and token file.
    public var baseDirectory: String
    /// The file this configuration was loaded from, when it came from a file (for messages that name it).
    public var configFile: String?
    /// The SQLite catalog of stored files and snapshots.
    public var catalog: String
    /// Where backups go: one target named `default` for `backend:`, or the `targets:` mapping in file order.
    public var targets: [Target]
    /// How many verified copies each file should have, between 1 and `targets.count`.
    public var copies: Int
    /// The age recipients every object is encrypted to: the `recipients:` list, then `recipients_file`.
    public var recipients: [X25519Recipient]
    /// The file the extra recipients were read from, when one was named.
    public var recipientsFile: String?
    /// The age identity (secret key) file, needed only to restore and to verify deeply.
    public var identity: String?
    /// Whether objects are age-encrypted; when false they are stored plain or gzip-only.
    public var encryption: Bool
    /// The default compression; a source may override it (see `Source.compression`).
    public var compression: CompressionMode
    /// How stored objects are named on the target.
    public var naming: Naming
    /// Exclude patterns shared by all sources (already included in every `Source.exclude`).
    public var exclude: [String]
    /// The folders to back up, in file order.
    public var sources: [Source]
    /// Baidu Netdisk settings, when the file has a `baidu:` block or a `BDY_*` variable is set.
    public var baidu: Baidu?
    /// When the daemon runs, parsed: the next run comes from `cronSchedule.nextRun(after:in:)` in the zone
    /// `scheduleZone(environment:)` picks.
    public var cronSchedule: CronSchedule
    /// When the daemon runs, as written: a 5-field cron expression or a macro such as `@daily`.
    public var schedule: String { cronSchedule.expression }
    /// The `timezone:` key: the zone `schedule` and `limits.window` are read in; nil when not set, in which case
    /// `scheduleZone(environment:)` falls back to `TZ`, then the system's zone.
    public var timeZone: TimeZone?
    /// How long a stopping daemon may take to finish the current object before it exits.
    public var shutdownTimeout: Duration
    /// The memory the process should stay under; nil lets the program decide (for example from the cgroup).
    public var memoryLimit: MemoryLimit?
    /// How many small files are read, compressed and stored (or restored) at once; nil picks
    /// `defaultFilesInFlight`.
    public var filesInFlight: Int?
    /// Bandwidth limits.
    public var limits: Limits
    /// The default retention; a source may override parts of it (see `Source.keep`).
    public var keep: Retention
    /// The lowest level that is logged.
    public var logLevel: Logger.Level
    /// A file to log to, besides standard error; nil logs to standard error only.
    public var logFile: String?

    /// The schedule used when the file sets none: 21:00 every day, as the original tool did.
    public static let defaultSchedule = "0 21 * * *"
    /// `defaultSchedule`, parsed.
    public static let defaultCronSchedule = CronSchedule(constant: defaultSchedule)
    /// How long a stop may take when the file does not say.
    public static let defaultShutdownTimeout = Duration.seconds(8)
    /// The values `files_in_flight:` accepts: each small file in flight holds about 2 MiB.
    public static let filesInFlightRange = 1...8
    /// `files_in_flight` when the config does not say: one per core, at most 4.
    public static var defaultFilesInFlight: Int { min(4, max(1, ProcessInfo.processInfo.activeProcessorCount)) }
    /// The name the single target of a `backend:` key gets.
    public static let defaultTargetName = "default"

    /// Creates a configuration from values; the loader uses it, and tests and tools can build one directly.
    ///
    /// - Parameters:
    ///   - configPath: the config file (absolute).
    ///   - targets: where backups go.
    ///   - sources: the folders to back up.
    ///   - recipients: age recipients; needed when `encryption` is true.
    ///   - encryption: whether objects are encrypted.
    ///   - copies: wanted verified copies; nil means one per target.
    ///   - catalog: the catalog path; nil means `catalog.sqlite` beside the config file.
    ///   - naming: the object naming; nil means opaque when encrypting and mirror when not.
    ///   - compression: the default compression.
    public init(
        configPath: String,
        targets: [Target],
        sources: [Source],
        recipients: [X25519Recipient] = [],
        encryption: Bool = true,
        copies: Int? = nil,
        catalog: String? = nil,
        naming: Naming? = nil,
        compression: CompressionMode = .auto(level: CompressionMode.defaultAutoLevel)
    ) {
        let base = (configPath as NSString).deletingLastPathComponent
        self.configPath = configPath
        self.baseDirectory = base.isEmpty ? "/" : base
        self.catalog = catalog ?? (self.baseDirectory as NSString).appendingPathComponent("catalog.sqlite")
        self.targets = targets
        self.copies = copies ?? targets.count
        self.recipients = recipients
        self.recipientsFile = nil
        self.identity = nil
        self.encryption = encryption
        self.compression = compression
        self.naming = naming ?? (encryption ? .opaque : .mirror)
        self.exclude = []
        self.sources = sources
        self.baidu = nil
        self.cronSchedule = Self.defaultCronSchedule
        self.timeZone = nil
        self.shutdownTimeout = Self.defaultShutdownTimeout
        self.memoryLimit = nil
        self.filesInFlight = nil
        self.limits = Limits()
        self.keep = Retention()
        self.logLevel = .info
        self.logFile = nil
    }

    /// The context backend factories get: the config folder and the `baidu:` block as plain strings.
    ///
    /// Keys are the YAML names (`app_key`, `token_file`, `upload_concurrency`); the endpoints are flattened to
    /// `endpoints.oauth`, `endpoints.api` and `endpoints.upload`, so a factory needs no YAML.
    public func backendContext() -> BackendRegistry.Context {
        var settings: [String: [String: String]] = [:]
        if var baidu = baidu?.settings {
            if let configFile { baidu["config_file"] = configFile }
            settings["baidu"] = baidu
        }
        return BackendRegistry.Context(baseDirectory: baseDirectory, settings: settings)
    }
}

extension ArchiverConfig {
    /// One place backups go: a name (used in the catalog and on the command line) and a backend spec.
    public struct Target: Sendable, Hashable {
        /// The target's name: `default` for `backend:`, the mapping key for `targets:`.
        public var name: String
        /// The backend spec as written (`local:/mnt/usb/archive`, `baidu:`), for `BackendRegistry.make`.
        public var spec: String

        /// Creates a target.
        /// - Parameters:
        ///   - name: the target's name.
        ///   - spec: the backend spec.
        public init(name: String, spec: String) {
            self.name = name
            self.spec = spec
        }

        /// The spec's scheme, lowercased (`local` for `local:/mnt/usb`), as the registry reads it.
        public var scheme: String {
            let trimmed = spec.trimmingCharacters(in: .whitespaces)
            let head = trimmed.firstIndex(of: ":").map { trimmed[..<$0] } ?? trimmed[...]
            return head.lowercased()
        }
    }

    /// How objects are named on a target.
    public enum Naming: String, Sendable, Hashable, CaseIterable {
        /// Names derived from content and keys: the target shows no file names or folder structure.
        case opaque
        /// Names that mirror the source tree (`photos/2024/a.jpg.gz.age`), browsable on the target.
        case mirror
    }

    /// One folder to back up.
    public struct Source: Sendable, Hashable {
        /// The local folder, absolute.
        public var local: String
        /// The folder on the target, relative (`photos`, `family/photos`); validated like the original tool.
        public var remote: String
        /// Exclude patterns: the global `exclude` list followed by this source's own.
        public var exclude: [String]
        /// The compression for this source: its own `compression` or else the global one.
        public var compression: CompressionMode
        /// The retention for this source: the global `keep` with this source's `keep` values laid over it.
        public var keep: Retention

        /// Creates a source.
        /// - Parameters:
        ///   - local: the local folder (absolute).
        ///   - remote: the folder on the target.
        ///   - exclude: exclude patterns.
        ///   - compression: the compression.
        ///   - keep: the retention.
        public init(
            local: String,
            remote: String,
            exclude: [String] = [],
            compression: CompressionMode = .auto(level: CompressionMode.defaultAutoLevel),
            keep: Retention = Retention()
        ) {
            self.local = local
            self.remote = remote
            self.exclude = exclude
            self.compression = compression
            self.keep = keep
        }
    }

    /// Which snapshots and deleted files to keep. A nil rule is not applied; with every rule nil, everything is
    /// kept.
    public struct Retention: Sendable, Hashable {
        /// Keep the newest this many snapshots.
        public var last: Int?
        /// Keep the newest snapshot of each of this many hours.
        public var hourly: Int?
        /// Keep the newest snapshot of each of this many days.
        public var daily: Int?
        /// Keep the newest snapshot of each of this many weeks.
        public var weekly: Int?
        /// Keep the newest snapshot of each of this many months.
        public var monthly: Int?
        /// Keep the newest snapshot of each of this many years.
        public var yearly: Int?
        /// Keep a file deleted from the source this many days after it disappeared.
        public var deletedDays: Int?

        /// Creates a retention; every rule defaults to not set.
        /// - Parameters:
        ///   - last: newest snapshots to keep.
        ///   - hourly: hours to keep one snapshot of.
        ///   - daily: days to keep one snapshot of.
        ///   - weekly: weeks to keep one snapshot of.
        ///   - monthly: months to keep one snapshot of.
        ///   - yearly: years to keep one snapshot of.
        ///   - deletedDays: days a deleted file is kept.
        public init(
            last: Int? = nil,
            hourly: Int? = nil,
            daily: Int? = nil,
            weekly: Int? = nil,
            monthly: Int? = nil,
            yearly: Int? = nil,
            deletedDays: Int? = nil
        ) {
            self.last = last
            self.hourly = hourly
            self.daily = daily
            self.weekly = weekly
            self.monthly = monthly
            self.yearly = yearly
            self.deletedDays = deletedDays
        }

        /// True when no rule is set, so nothing is ever pruned.
        public var keepsEverything: Bool { self == Retention() }

        /// This retention with every rule `other` sets replaced by `other`'s value.
        /// - Parameter other: the overriding rules (a source's `keep`).
        /// - Returns: the merged retention.
        public func overlaid(with other: Retention) -> Retention {
            Retention(
                last: other.last ?? last,
                hourly: other.hourly ?? hourly,
                daily: other.daily ?? daily,
                weekly: other.weekly ?? weekly,
                monthly: other.monthly ?? monthly,
                yearly: other.yearly ?? yearly,
                deletedDays: other.deletedDays ?? deletedDays
            )
        }
    }

    /// Bandwidth limits.
    public struct Limits: Sendable, Hashable {
        /// The upload rate cap in KiB/s; nil uploads at full speed.
        public var uploadKiBPerSecond: Int?
        /// The daily window (in `timeZone`) in which the cap applies; nil applies it all day.
        public var window: TimeWindow?

        /// Creates limits; by default there are none.
        /// - Parameters:
        ///   - uploadKiBPerSecond: the upload cap in KiB/s.
        ///   - window: when the cap applies.
        public init(uploadKiBPerSecond: Int? = nil, window: TimeWindow? = nil) {
            self.uploadKiBPerSecond = uploadKiBPerSecond
            self.window = window
        }
    }

    /// A daily window of wall-clock time, `HH:MM-HH:MM`; the end may be earlier than the start, in which case the
    /// window wraps past midnight (`23:00-06:00`).
    public struct TimeWindow: Sendable, Hashable, CustomStringConvertible {
        /// Minutes after midnight at which the window opens (inclusive).
        public var startMinute: Int
        /// Minutes after midnight at which the window closes (exclusive).
        public var endMinute: Int

        /// Creates a window.
        /// - Parameters:
        ///   - startMinute: opening time, in minutes after midnight (0..<1440).
        ///   - endMinute: closing time, in minutes after midnight (0..<1440), different from the start.
        public init(startMinute: Int, endMinute: Int) {
            self.startMinute = startMinute
            self.endMinute = endMinute
        }

        /// True when `minute` (minutes after midnight) falls inside the window.
        /// - Parameter minute: a time of day in minutes after midnight.
        public func contains(minuteOfDay minute: Int) -> Bool {
            if startMinute < endMinute { return minute >= startMinute && minute < endMinute }
            return minute >= startMinute || minute < endMinute
        }

        /// The window as written in the config, `HH:MM-HH:MM`.
        public var description: String {
            func clock(_ m: Int) -> String {
                let h = m / 60
                let mm = m % 60
                return (h < 10 ? "0" : "") + "\(h):" + (mm < 10 ? "0" : "") + "\(mm)"
            }
            return "\(clock(startMinute))-\(clock(endMinute))"
        }
    }

    /// A memory limit: a byte count, or `max` for none (the cgroup spelling).
    public enum MemoryLimit: Sendable, Hashable {
        /// Stay under this many bytes.
        case bytes(Int)
        /// No limit.
        case max
    }

    /// The `baidu:` block: the Baidu open-platform app and how to talk to it.
    public struct Baidu: Sendable, Hashable {
        /// The app's name; Baidu keeps its files under `/apps/<app name>/`.
        public var appName: String?
        /// The app's API key (`BDY_APP_KEY`).
        public var appKey: String?
        /// The app's secret key (`BDY_SECRET_KEY`).
        public var secretKey: String?
        /// Where the OAuth tokens are kept (absolute); by default `baidu-token.json` beside the config file.
        public var tokenFile: String
        /// How many slices upload at once, 1 to 16.
        public var uploadConcurrency: Int
        /// A slice size below the account tier's (to save memory), or nil for the tier's. Never raises it.
        public var sliceSize: Int?
        /// A largest object below the tier's (larger files become segments), or nil for the tier's. Never raises it.
        public var maxObjectSize: Int64?
        /// The servers to talk to; tests point these at a local fake.
        public var endpoints: Endpoints

        /// The default number of slices in flight.
        public static let defaultUploadConcurrency = 2
        /// The allowed numbers of slices in flight.
        public static let uploadConcurrencyRange = 1...16

        /// Creates Baidu settings.
        /// - Parameters:
        ///   - appName: the app's name.
        ///   - appKey: the API key.
        ///   - secretKey: the secret key.
        ///   - tokenFile: the token file (absolute).
        ///   - uploadConcurrency: slices in flight.
        ///   - endpoints: the servers.
        public init(
            appName: String? = nil,
            appKey: String? = nil,
            secretKey: String? = nil,
            tokenFile: String,
            uploadConcurrency: Int = Baidu.defaultUploadConcurrency,
            sliceSize: Int? = nil,
            maxObjectSize: Int64? = nil,
            endpoints: Endpoints = Endpoints()
        ) {
            self.appName = appName
            self.appKey = appKey
            self.secretKey = secretKey
            self.tokenFile = tokenFile
            self.uploadConcurrency = uploadConcurrency
            self.sliceSize = sliceSize
            self.maxObjectSize = maxObjectSize
            self.endpoints = endpoints
        }

        /// The values as strings under their YAML names, for `BackendRegistry.Context.settings["baidu"]`.
        public var settings: [String: String] {
            var s: [String: String] = [
                "token_file": tokenFile,
                "upload_concurrency": String(uploadConcurrency),
                "endpoints.oauth": endpoints.oauth.absoluteString,
                "endpoints.api": endpoints.api.absoluteString,
                "endpoints.upload": endpoints.upload.absoluteString,
            ]
            if let appName { s["app_name"] = appName }
            if let appKey { s["app_key"] = appKey }
            if let secretKey { s["secret_key"] = secretKey }
            if let sliceSize { s["slice_size"] = String(sliceSize) }
            if let maxObjectSize { s["max_object_size"] = String(maxObjectSize) }
            return s
        }

        /// The Baidu servers.
        public struct Endpoints: Sendable, Hashable {
            /// The OAuth server (device code and tokens).
            public var oauth: URL
            /// The file API server (listing, precreate, create).
            public var api: URL
            /// The slice upload server.
            public var upload: URL

            /// Baidu's OAuth server.
            public static let defaultOAuth = URL(string: "https://openapi.baidu.com")!
            /// Baidu's file API server.
            public static let defaultAPI = URL(string: "https://pan.baidu.com")!
            /// Baidu's slice upload server.
            public static let defaultUpload = URL(string: "https://d.pcs.baidu.com")!

            /// Creates endpoints; each defaults to Baidu's own server.
            /// - Parameters:
            ///   - oauth: the OAuth server.
            ///   - api: the file API server.
            ///   - upload: the slice upload server.
            public init(oauth: URL = defaultOAuth, api: URL = defaultAPI, upload: URL = defaultUpload) {
                self.oauth = oauth
                self.api = api
                self.upload = upload
            }
        }
    }
}
