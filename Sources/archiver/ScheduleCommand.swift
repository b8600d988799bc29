import ArchiverKit
import ArgumentParser
import Foundation

/// `archiver schedule`: the daemon's time zone and next run times, so an expression can be checked before the
/// daemon relies on it.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Show the time zone the daemon's schedule is read in and its next run times.",
        discussion: """
            The schedule is the config's `schedule:` (or SYNC_INTERVAL); the zone is `timezone:`, else TZ, else \
            the system's. Times are shown in that zone with their UTC offset. A time that a daylight saving change \
            skips runs when the clock resumes, and is marked; a repeated hour runs once. See docs/schedule.md.
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "How many run times to show (1-1000).")
    var count = 5

    @Option(
        help: "Start from this time, not now: 2026-03-29 01:00 in the schedule's zone, or ISO 8601 with an offset.")
    var after: String?

    func validate() throws {
        guard (1...1000).contains(count) else { throw ValidationError("--count must be 1 to 1000") }
    }

    func run() throws {
        let config = try options.load()
        let resolved = config.scheduleZone()
        let start = try after.map { try Self.parseStart($0, in: resolved.zone) } ?? Date()
        let schedule = config.cronSchedule
        Terminal.output("schedule:  \(schedule.expression)")
        Terminal.output("time zone: \(resolved)")
        let runs = schedule.nextRuns(after: start, in: resolved.zone, count: count)
        Terminal.output("next \(runs.count == 1 ? "run" : "\(runs.count) runs") after \(resolved.format(start)):")
        for run in runs {
            let moved =
                schedule.matches(run, in: resolved.zone) ? "" : "  (the scheduled time is skipped by a clock change)"
            Terminal.output("  \(resolved.format(run))\(moved)")
        }
    }

    /// A start time: ISO 8601 with an offset, else a wall-clock time in the schedule's zone.
    static func parseStart(_ text: String, in zone: TimeZone) throws -> Date {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        for format in ["yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        throw ArchiverError(
            .usage,
            "--after '\(text)' is not a time: use 2026-03-29 01:00 (in the schedule's zone) or 2026-03-29T01:00:00Z")
    }
}
