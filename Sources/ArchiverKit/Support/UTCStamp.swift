public import Foundation

/// Moments written as UTC text, formatted with the C library.
///
/// Foundation's `ISO8601DateFormatter` and `DateFormatter` load ICU, whose tables add about 5 MiB to the resident
/// set of every process that touches them; a backup needs timestamps (the lock file, token files, catalog copy
/// names) but nothing that ICU knows, so they are written here instead.
public enum UTCStamp {
    /// RFC 3339 / ISO 8601 in UTC to the second, e.g. `2026-11-27T21:22:05Z` (what `ISO8601DateFormatter` writes).
    /// - Parameter date: the moment.
    /// - Returns: the text.
    public static func iso8601(_ date: Date) -> String {
        let (tm, _) = fields(date)
        return "\(pad(tm.tm_year + 1900, 4))-\(pad(tm.tm_mon + 1, 2))-\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2)):\(pad(tm.tm_min, 2)):\(pad(tm.tm_sec, 2))Z"
    }

    /// ISO 8601 basic format in UTC with milliseconds, e.g. `20261127T212205.123Z`: sorts as it reads and holds no
    /// character that any backend forbids in a name.
    /// - Parameter date: the moment.
    /// - Returns: the text.
    public static func compact(_ date: Date) -> String {
        let (tm, milliseconds) = fields(date)
        return "\(pad(tm.tm_year + 1900, 4))\(pad(tm.tm_mon + 1, 2))\(pad(tm.tm_mday, 2))T"
            + "\(pad(tm.tm_hour, 2))\(pad(tm.tm_min, 2))\(pad(tm.tm_sec, 2)).\(pad(milliseconds, 3))Z"
    }

    private static func fields(_ date: Date) -> (tm, Int32) {
        let seconds = date.timeIntervalSince1970
        let whole = seconds.rounded(.down)
        var time = time_t(whole)
        var result = tm()
        gmtime_r(&time, &result)
        return (result, Int32(min(999, ((seconds - whole) * 1000).rounded(.down))))
    }

    private static func pad(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
