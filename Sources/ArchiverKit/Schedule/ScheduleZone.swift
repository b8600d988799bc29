public import Foundation

/// The time zone a schedule is read in, and where it came from: the `timezone:` key, else `TZ`, else the system's.
public struct ScheduleZone: Sendable, Hashable, CustomStringConvertible {
    /// Where the zone came from.
    public enum Source: String, Sendable, Hashable {
        /// The `timezone:` key (or `ARCHIVER_TIMEZONE`).
        case config
        /// The `TZ` environment variable.
        case environment
        /// The system's zone (`/etc/localtime`, `/etc/timezone`).
        case system
    }

    /// The zone.
    public var zone: TimeZone
    /// Where it came from.
    public var source: Source
    /// Set when `TZ` held something this system does not know as a zone and was passed over.
    public var note: String?

    /// Picks the zone a schedule is read in.
    ///
    /// An unknown `TZ` is not an error (other programs in the container read it too, and glibc accepts POSIX rules
    /// such as `CST-8` that are not zone names); it is passed over with a `note` to show the user.
    /// - Parameters:
    ///   - configured: the `timezone:` key, already checked when the config was loaded.
    ///   - environment: the process environment, for `TZ`.
    ///   - system: the system's zone, asked only when neither of the others is set.
    /// - Returns: the zone and where it came from.
    public static func resolve(
        configured: TimeZone?,
        environment: [String: String],
        system: () -> TimeZone = ScheduleZone.systemZone
    ) -> ScheduleZone {
        if let configured { return ScheduleZone(zone: configured, source: .config) }
        guard let tz = environment["TZ"]?.trimmingCharacters(in: .whitespaces), !tz.isEmpty else {
            return ScheduleZone(zone: system(), source: .system)
        }
        if let zone = zoneNamed(tz) { return ScheduleZone(zone: zone, source: .environment) }
        let fallback = system()
        return ScheduleZone(
            zone: fallback, source: .system,
            note: "TZ '\(tz)' is not a time zone name this system knows, so schedules use the system's zone "
                + "\(fallback.identifier); set 'timezone:' in the config (an IANA name such as Asia/Shanghai)")
    }

    /// Creates a resolved zone.
    /// - Parameters:
    ///   - zone: the zone.
    ///   - source: where it came from.
    ///   - note: why `TZ` was passed over, if it was.
    public init(zone: TimeZone, source: Source, note: String? = nil) {
        self.zone = zone
        self.source = source
        self.note = note
    }

    /// The zone and its source, e.g. `Asia/Shanghai (timezone: in the config)`.
    public var description: String {
        let from =
            switch source {
            case .config: "timezone: in the config"
            case .environment: "from TZ"
            case .system: "the system's zone"
            }
        return "\(zone.identifier) (\(from))"
    }

    /// A moment as wall-clock time in this zone with its UTC offset and weekday, e.g. `Sun 2026-03-29 03:00 +02:00`.
    /// - Parameter date: the moment.
    /// - Returns: the text; seconds are shown only when not zero.
    public func format(_ date: Date) -> String {
        let offset = zone.secondsFromGMT(for: date)
        let whole = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let wall = LocalTime(secondsAsIfUTC: whole)
        let second = ((whole % 60) + 60) % 60
        let weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][wall.weekday]
        let sign = offset < 0 ? "-" : "+"
        let hours = abs(offset) / 3_600
        let minutes = abs(offset) % 3_600 / 60
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let seconds = second == 0 ? "" : ":\(two(second))"
        return "\(weekday) \(wall)\(seconds) \(sign)\(two(hours)):\(two(minutes))"
    }

    /// A zone from a `TZ` value: an IANA name, optionally after POSIX's leading `:`, or a path into a zoneinfo
    /// folder (`/usr/share/zoneinfo/Europe/Berlin`).
    /// - Parameter value: the value.
    /// - Returns: the zone, or nil when the system does not know it.
    static func zoneNamed(_ value: String) -> TimeZone? {
        var name = Substring(value)
        if name.hasPrefix(":") { name = name.dropFirst() }
        if let range = name.range(of: "zoneinfo/") { name = name[range.upperBound...] }
        guard !name.isEmpty else { return nil }
        return TimeZone(identifier: String(name))
    }

    /// The system's zone: where `/etc/localtime` links to, else `/etc/timezone` (Debian), else Foundation's.
    ///
    /// Foundation's current zone is asked last because it reads `TZ` first, which this is the fallback for.
    /// - Returns: the zone.
    public static func systemZone() -> TimeZone {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime"),
            let zone = zoneNamed(target)
        {
            return zone
        }
        if let data = FileManager.default.contents(atPath: "/etc/timezone"),
            let zone = zoneNamed(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        {
            return zone
        }
        return TimeZone.current
    }
}
