import ArchiverKit
import Foundation
import Testing

/// Cron parsing, next-run computation across month ends, leap years and DST, and the zone the schedule is read in.
///
/// Expected times are written by hand and were checked against Python's zoneinfo; they are compared as text made
/// by `DateFormatter`, which shares no code with the schedule.
@Suite("Schedule")
struct ScheduleTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let lordHowe = TimeZone(identifier: "Australia/Lord_Howe")!
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    static let utc = TimeZone(identifier: "UTC")!

    /// A moment from ISO 8601 text with an offset.
    static func at(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else { preconditionFailure("bad test time \(text)") }
        return date
    }

    /// Moments as `yyyy-MM-dd HH:mm ±hh:mm` in a zone.
    static func text(_ dates: [Date], _ zone: TimeZone) -> [String] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm xxx"
        return dates.map { formatter.string(from: $0) }
    }

    /// The next runs of an expression after a moment, as text in the zone.
    static func runs(_ expression: String, after start: String, in zone: TimeZone, count: Int = 4) throws -> [String] {
        let schedule = try CronSchedule(expression)
        return text(schedule.nextRuns(after: at(start), in: zone, count: count), zone)
    }

    // MARK: Parsing

    @Test("each form of a field")
    func fieldForms() throws {
        let s = try CronSchedule("*/15 1-5,22 1-10/3 jan,JUL Mon-fri")
        #expect(s.minute.values == [0, 15, 30, 45])
        #expect(s.hour.values == [1, 2, 3, 4, 5, 22])
        #expect(s.dayOfMonth.values == [1, 4, 7, 10])
        #expect(s.month.values == [1, 7])
        #expect(s.dayOfWeek.values == [1, 2, 3, 4, 5])
        #expect(s.expression == "*/15 1-5,22 1-10/3 jan,JUL Mon-fri")

        let t = try CronSchedule("  5/20\t*  *  * * ")
        #expect(t.minute.values == [5, 25, 45])
        #expect(t.hour.values == Array(0...23))
        #expect(t.dayOfMonth.values == Array(1...31))
        #expect(t.month.values == Array(1...12))
        #expect(t.dayOfWeek.values == Array(0...6))
        #expect(t.expression == "5/20 * * * *")
        #expect(try CronSchedule("0 0 * */3 *").month.values == [1, 4, 7, 10])
        #expect(try CronSchedule("0 0 * mar-MAY *").month.values == [3, 4, 5])
        #expect(try CronSchedule("59 23 31 12 6").minute.values == [59])
    }

    @Test("7 and sun are Sunday; a range may end on sun")
    func sunday() throws {
        #expect(try CronSchedule("0 0 * * 7").dayOfWeek.values == [0])
        #expect(try CronSchedule("0 0 * * SUN").dayOfWeek.values == [0])
        #expect(try CronSchedule("0 0 * * 5-7").dayOfWeek.values == [0, 5, 6])
        #expect(try CronSchedule("0 0 * * fri-sun").dayOfWeek.values == [0, 5, 6])
        #expect(try CronSchedule("0 0 * * mon-sun").dayOfWeek.values == Array(0...6))
        #expect(try CronSchedule("0 0 * * 0,7").dayOfWeek.values == [0])
        #expect(try CronSchedule("0 0 * * sat,sun").dayOfWeek.values == [0, 6])
    }

    @Test(
        "macros stand for their five fields",
        arguments: [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
            ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
        ])
    func macros(macro: String, fields: String) throws {
        let m = try CronSchedule(macro.uppercased())
        let f = try CronSchedule(fields)
        #expect(m.expression == macro)
        #expect(m.minute == f.minute && m.hour == f.hour && m.dayOfMonth == f.dayOfMonth)
        #expect(m.month == f.month && m.dayOfWeek == f.dayOfWeek)
    }

    // MARK: Errors

    @Test(
        "errors name the field, the token and the range",
        arguments: [
            ("60 * * * *", "minute: 60 is out of range 0-59"),
            ("0 24 * * *", "hour: 24 is out of range 0-23"),
            ("0 0 32 * *", "day-of-month: 32 is out of range 1-31"),
            ("0 0 0 * *", "day-of-month: 0 is out of range 1-31"),
            ("0 0 * 13 *", "month: 13 is out of range 1-12"),
            ("0 0 * 0 *", "month: 0 is out of range 1-12"),
            ("0 0 * * 8", "day-of-week: 8 is out of range 0-7"),
            ("0 0 * foo *", "month: 'foo' is not a number in 1-12 or a name jan-dec"),
            ("0 0 * * monday", "day-of-week: 'monday' is not a number in 0-7 or a name sun-sat"),
            ("0 jan * * *", "hour: 'jan' is not a number in 0-23"),
            ("*/0 * * * *", "minute: the step 0 in '*/0' is out of range 1-60"),
            ("0 */25 * * *", "hour: the step 25 in '*/25' is out of range 1-24"),
            ("0 1-5/x * * *", "hour: the step in '1-5/x' must be a whole number"),
            ("0 5-2 * * *", "hour: the range '5-2' is reversed"),
            ("0 0 * dec-jan *", "month: the range 'dec-jan' is reversed"),
            ("0 0 * * sat-mon", "day-of-week: the range 'sat-mon' is reversed"),
            ("1,,2 * * * *", "minute: a list has an empty item"),
            ("1- * * * *", "minute: '1-' is missing a value"),
            ("1-2-3 * * * *", "minute: '1-2-3' has more than one '-'"),
            ("*/2/3 * * * *", "minute: '*/2/3' has more than one '/'"),
            ("0 0 L * *", "day-of-month: 'L' uses L, W, # or ?"),
            ("0 0 * * 5#2", "day-of-week: '5#2' uses L, W, # or ?"),
            ("0 0 * * $", "day-of-week: '$' is not a number in 0-7"),
            ("0 0 21 * * *", "has 6 fields, not 5 (a seconds field is not supported)"),
            ("0 21 * *", "has 4 fields, not 5"),
            ("", "has 0 fields, not 5"),
            ("@often", "is not a known macro: use five cron fields"),
            ("@reboot", "is not a known macro (the daemon always runs once when it starts)"),
            ("0 0 30 2 *", "never runs: day-of-month 30 does not occur in feb"),
            ("0 0 31 2,4,jun *", "never runs: day-of-month 31 does not occur in feb, apr, jun"),
            ("0 0 30-31 2 */2", "never runs: day-of-month 30 does not occur in feb"),
        ])
    func errors(expression: String, expected: String) {
        // Through the config, as users meet them: the file and line, the key and the value come first.
        let message = ConfigFixtures.failure(ConfigFixtures.minimal + ["schedule: \"\(expression)\""])
        #expect(message.hasPrefix("/cfg/config.yml:6: schedule '\(expression)' "), "\(message)")
        #expect(message.contains(expected), "\(message)")
    }

    @Test("the parser alone throws a usage error naming the field, the token and the range")
    func parserError() {
        let error = #expect(throws: ArchiverError.self) { try CronSchedule("0 0 32 * *") }
        #expect(error?.code == .usage)
        #expect(error?.message == "schedule '0 0 32 * *' is not valid: day-of-month: 32 is out of range 1-31")
    }

    @Test("expressions that run only some years, or by the weekday, are not 'never'")
    func rareButPossible() throws {
        _ = try CronSchedule("0 0 29 2 *")
        _ = try CronSchedule("0 0 30 2 mon")  // both day fields restricted: every Monday of February
        _ = try CronSchedule("0 0 31 * *")
    }

    // MARK: Next run

    @Test("strictly after: a run at the start moment is not returned; seconds are ignored")
    func strictlyAfter() throws {
        let utc = Self.utc
        #expect(try Self.runs("0 21 * * *", after: "2026-06-01T21:00:00Z", in: utc, count: 1) == [
            "2026-06-02 21:00 +00:00"
        ])
        #expect(try Self.runs("0 21 * * *", after: "2026-06-01T20:59:30Z", in: utc, count: 1) == [
            "2026-06-01 21:00 +00:00"
        ])
        #expect(try Self.runs("* * * * *", after: "2026-06-01T20:59:30Z", in: utc, count: 2) == [
            "2026-06-01 21:00 +00:00", "2026-06-01 21:01 +00:00",
        ])
    }

    @Test("month ends and the year end")
    func monthEnds() throws {
        #expect(try Self.runs("0 12 31 * *", after: "2026-01-31T13:00:00Z", in: Self.utc) == [
            "2026-03-31 12:00 +00:00", "2026-05-31 12:00 +00:00", "2026-07-31 12:00 +00:00", "2026-08-31 12:00 +00:00",
        ])
        #expect(try Self.runs("30 23 1 * *", after: "2026-12-31T23:30:00Z", in: Self.utc, count: 1) == [
            "2027-01-01 23:30 +00:00"
        ])
        #expect(try Self.runs("@monthly", after: "2026-12-15T00:00:00Z", in: Self.utc, count: 2) == [
            "2027-01-01 00:00 +00:00", "2027-02-01 00:00 +00:00",
        ])
        #expect(try Self.runs("59 23 * * *", after: "2026-02-28T23:59:00Z", in: Self.utc, count: 1) == [
            "2026-03-01 23:59 +00:00"
        ])
        #expect(try Self.runs("@yearly", after: "2026-06-01T00:00:00Z", in: Self.utc, count: 2) == [
            "2027-01-01 00:00 +00:00", "2028-01-01 00:00 +00:00",
        ])
    }

    @Test("February 29 runs in leap years only, and 2100 is not one")
    func leapYears() throws {
        #expect(try Self.runs("0 0 29 2 *", after: "2025-03-01T00:00:00Z", in: Self.utc, count: 3) == [
            "2028-02-29 00:00 +00:00", "2032-02-29 00:00 +00:00", "2036-02-29 00:00 +00:00",
        ])
        #expect(try Self.runs("0 0 29 2 *", after: "2096-03-01T00:00:00Z", in: Self.utc, count: 1) == [
            "2104-02-29 00:00 +00:00"
        ])
        // A Sunday February 29 (the day-of-week starts with '*', so both day fields must match): decades apart.
        let started = ContinuousClock.now
        #expect(try Self.runs("0 0 29 2 */7", after: "2026-01-01T00:00:00Z", in: Self.utc, count: 5) == [
            "2032-02-29 00:00 +00:00", "2060-02-29 00:00 +00:00", "2088-02-29 00:00 +00:00",
            "2128-02-29 00:00 +00:00", "2156-02-29 00:00 +00:00",
        ])
        #expect(ContinuousClock.now - started < .seconds(2), "the search walks fields, not minutes")
    }

    @Test("both day fields restricted: a day matches if either does")
    func dayOrRule() throws {
        // 2026-02-01 is a Sunday: the 1st of each month or any Monday.
        #expect(try Self.runs("0 0 1 * 1", after: "2026-02-01T00:00:00Z", in: Self.utc, count: 6) == [
            "2026-02-02 00:00 +00:00", "2026-02-09 00:00 +00:00", "2026-02-16 00:00 +00:00",
            "2026-02-23 00:00 +00:00", "2026-03-01 00:00 +00:00", "2026-03-02 00:00 +00:00",
        ])
        // Day-of-month '*': the weekday alone decides.
        #expect(try Self.runs("0 0 * * mon", after: "2026-02-01T00:00:00Z", in: Self.utc, count: 2) == [
            "2026-02-02 00:00 +00:00", "2026-02-09 00:00 +00:00",
        ])
        // Vixie cron's quirk: '*/2' starts with '*', so the fields combine with AND: odd days that are Mondays.
        #expect(try Self.runs("0 0 */2 * 1", after: "2026-02-01T00:00:00Z", in: Self.utc, count: 4) == [
            "2026-02-09 00:00 +00:00", "2026-02-23 00:00 +00:00", "2026-03-09 00:00 +00:00",
            "2026-03-23 00:00 +00:00",
        ])
        #expect(try Self.runs("0 0 * * 7", after: "2026-02-01T00:00:00Z", in: Self.utc, count: 1) == [
            "2026-02-08 00:00 +00:00"
        ])
    }

    @Test("hours listed past midnight, in a zone without DST")
    func shanghai() throws {
        #expect(try Self.runs("0 21 * * *", after: "2026-06-01T00:00:00Z", in: Self.shanghai, count: 2) == [
            "2026-06-01 21:00 +08:00", "2026-06-02 21:00 +08:00",
        ])
        #expect(try Self.runs("30 23,0 * * *", after: "2026-03-28T22:00:00+08:00", in: Self.shanghai) == [
            "2026-03-28 23:30 +08:00", "2026-03-29 00:30 +08:00", "2026-03-29 23:30 +08:00",
            "2026-03-30 00:30 +08:00",
        ])
        // Berlin's spring-forward night is an ordinary night here.
        #expect(try Self.runs("30 2 * * *", after: "2026-03-28T12:00:00+08:00", in: Self.shanghai, count: 2) == [
            "2026-03-29 02:30 +08:00", "2026-03-30 02:30 +08:00",
        ])
    }

    // MARK: Daylight saving time

    @Test("Berlin spring-forward: a skipped time runs once, at the first minute after the gap")
    func berlinSpring() throws {
        let z = Self.berlin
        #expect(try Self.runs("30 2 * * *", after: "2026-03-28T12:00:00+01:00", in: z, count: 2) == [
            "2026-03-29 03:00 +02:00", "2026-03-30 02:30 +02:00",
        ])
        // Four skipped times, one run.
        #expect(try Self.runs("*/15 2 * * *", after: "2026-03-29T00:00:00+01:00", in: z, count: 3) == [
            "2026-03-29 03:00 +02:00", "2026-03-30 02:00 +02:00", "2026-03-30 02:15 +02:00",
        ])
        // 02:00 is skipped and 03:00 is due anyway: one run at 03:00.
        #expect(try Self.runs("0 * * * *", after: "2026-03-29T00:30:00+01:00", in: z, count: 3) == [
            "2026-03-29 01:00 +01:00", "2026-03-29 03:00 +02:00", "2026-03-29 04:00 +02:00",
        ])
        // `matches` tells a moved run from an ordinary one (`archiver schedule` marks it).
        let schedule = try CronSchedule("30 2 * * *")
        let moved = try #require(schedule.nextRun(after: Self.at("2026-03-28T12:00:00+01:00"), in: z))
        #expect(!schedule.matches(moved, in: z))
        #expect(schedule.matches(Self.at("2026-03-30T02:30:00+02:00"), in: z))
    }

    @Test("Berlin fall-back: a repeated time runs once, at its first occurrence")
    func berlinAutumn() throws {
        let z = Self.berlin
        #expect(try Self.runs("30 2 * * *", after: "2026-10-24T12:00:00+02:00", in: z, count: 2) == [
            "2026-10-25 02:30 +02:00", "2026-10-26 02:30 +01:00",
        ])
        #expect(try Self.runs("*/30 * * * *", after: "2026-10-25T01:00:00+02:00", in: z, count: 4) == [
            "2026-10-25 01:30 +02:00", "2026-10-25 02:00 +02:00", "2026-10-25 02:30 +02:00",
            "2026-10-25 03:00 +01:00",
        ])
        // Started during the second pass of the hour: the 02:30 of that night has run already.
        #expect(try Self.runs("30 2 * * *", after: "2026-10-25T02:10:00+01:00", in: z, count: 1) == [
            "2026-10-26 02:30 +01:00"
        ])
    }

    @Test("New York: spring-forward and fall-back")
    func newYork() throws {
        let z = Self.newYork
        #expect(try Self.runs("30 2 * * *", after: "2026-03-07T12:00:00-05:00", in: z, count: 2) == [
            "2026-03-08 03:00 -04:00", "2026-03-09 02:30 -04:00",
        ])
        #expect(try Self.runs("30 1 * * *", after: "2026-10-31T12:00:00-04:00", in: z, count: 2) == [
            "2026-11-01 01:30 -04:00", "2026-11-02 01:30 -05:00",
        ])
    }

    @Test("Lord Howe's 30-minute shift")
    func lordHowe() throws {
        let z = Self.lordHowe
        // October: 02:00 +10:30 becomes 02:30 +11:00.
        #expect(try Self.runs("15 2 * * *", after: "2026-10-03T12:00:00+10:30", in: z, count: 2) == [
            "2026-10-04 02:30 +11:00", "2026-10-05 02:15 +11:00",
        ])
        #expect(try Self.runs("*/15 2 * * *", after: "2026-10-04T00:00:00+10:30", in: z, count: 3) == [
            "2026-10-04 02:30 +11:00", "2026-10-04 02:45 +11:00", "2026-10-05 02:00 +11:00",
        ])
        // April: 02:00 +11:00 becomes 01:30 +10:30, so 01:30-01:59 comes twice.
        #expect(try Self.runs("45 1 * * *", after: "2026-04-04T12:00:00+11:00", in: z, count: 2) == [
            "2026-04-05 01:45 +11:00", "2026-04-06 01:45 +10:30",
        ])
        #expect(try Self.runs("*/15 1 * * *", after: "2026-04-05T00:30:00+11:00", in: z, count: 5) == [
            "2026-04-05 01:00 +11:00", "2026-04-05 01:15 +11:00", "2026-04-05 01:30 +11:00",
            "2026-04-05 01:45 +11:00", "2026-04-06 01:00 +10:30",
        ])
    }

    @Test("a year of hourly runs across both changes: no duplicates, no run missed but the skipped hour")
    func hourlyYear() throws {
        let schedule = try CronSchedule("@hourly")
        let start = Self.at("2026-01-01T00:00:00+01:00")
        let runs = schedule.nextRuns(after: start, in: Self.berlin, count: 365 * 24)
        #expect(zip(runs, runs.dropFirst()).allSatisfy { $0 < $1 })
        // 8760 wall-clock hours; the skipped 02:00 is replaced by 03:00 (one run) and the repeated 02:00 runs once.
        let end = Self.at("2027-01-01T00:00:00+01:00")
        #expect(runs.filter { $0 <= end }.count == 365 * 24 - 1)
    }

    // MARK: Zone

    @Test("the zone: timezone: key, else TZ, else the system's")
    func zoneResolution() {
        let system = { Self.utc }
        let key = ScheduleZone.resolve(configured: Self.shanghai, environment: ["TZ": "Europe/Berlin"], system: system)
        #expect(key.zone == Self.shanghai && key.source == .config && key.note == nil)
        #expect(key.description == "Asia/Shanghai (timezone: in the config)")

        for tz in ["Europe/Berlin", ":Europe/Berlin", "/usr/share/zoneinfo/Europe/Berlin", " Europe/Berlin "] {
            let env = ScheduleZone.resolve(configured: nil, environment: ["TZ": tz], system: system)
            #expect(env.zone == Self.berlin && env.source == .environment, "\(tz)")
        }
        for environment in [[:], ["TZ": ""], ["TZ": "  "]] {
            let none = ScheduleZone.resolve(configured: nil, environment: environment, system: system)
            #expect(none.zone == Self.utc && none.source == .system && none.note == nil)
        }
        let bad = ScheduleZone.resolve(configured: nil, environment: ["TZ": "Mars/Olympus"], system: system)
        #expect(bad.zone == Self.utc && bad.source == .system)
        #expect(bad.note?.contains("TZ 'Mars/Olympus' is not a time zone name this system knows") == true)
        #expect(!ScheduleZone.systemZone().identifier.isEmpty)
    }

    @Test("times are shown in the zone with their offset and weekday")
    func formatting() {
        let date = Self.at("2026-10-04T02:30:00+11:00")
        #expect(ScheduleZone(zone: Self.lordHowe, source: .config).format(date) == "Sun 2026-10-04 02:30 +11:00")
        #expect(ScheduleZone(zone: Self.newYork, source: .config).format(date) == "Sat 2026-10-03 11:30 -04:00")
        let odd = Self.at("2026-10-03T15:30:07Z")
        #expect(ScheduleZone(zone: Self.lordHowe, source: .config).format(odd) == "Sun 2026-10-04 02:30:07 +11:00")
    }

    // MARK: Config

    @Test("config: the schedule is parsed at load, bad ones fail with the line or the variable")
    func config() throws {
        typealias F = ConfigFixtures
        let c = try F.parse(F.minimal + ["schedule: \"30 2 * * mon-fri\"", "timezone: Europe/Berlin"]).config
        #expect(c.schedule == "30 2 * * mon-fri")
        #expect(c.cronSchedule.dayOfWeek.values == [1, 2, 3, 4, 5])
        #expect(c.scheduleZone(environment: ["TZ": "Asia/Shanghai"]).zone == Self.berlin)
        #expect(try F.parse(F.minimal).config.cronSchedule == CronSchedule("0 21 * * *"))
        let fromTZ = try F.parse(F.minimal).config.scheduleZone(environment: ["TZ": "Asia/Shanghai"])
        #expect(fromTZ.zone == Self.shanghai && fromTZ.source == .environment)

        #expect(
            F.failure(F.minimal + ["schedule: \"0 0 32 * *\""])
                == "/cfg/config.yml:6: schedule '0 0 32 * *' is not valid: day-of-month: 32 is out of range 1-31")
        #expect(
            F.failure(F.minimal + ["schedule: \"0 0 30 2 *\""])
                == "/cfg/config.yml:6: schedule '0 0 30 2 *' never runs: day-of-month 30 does not occur in feb")
        #expect(
            F.failure(F.minimal, environment: ["SYNC_INTERVAL": "0 25 * * *"])
                == "environment variable SYNC_INTERVAL: schedule '0 25 * * *' is not valid: hour: 25 is out of range "
                + "0-23")
        #expect(
            F.failure(F.minimal + ["schedule: \"0 21 * * *\""], environment: ["ARCHIVER_SCHEDULE": "*/0 * * * *"])
                .hasPrefix("environment variable ARCHIVER_SCHEDULE: schedule '*/0 * * * *' is not valid: minute:"))
    }

    @Test("config: an unknown TZ is a warning, not an error, and the timezone: key silences it")
    func configBadTZ() throws {
        typealias F = ConfigFixtures
        let loaded = try F.parse(F.minimal, environment: ["TZ": "CST-8"])
        #expect(loaded.warnings.contains { $0.hasPrefix("TZ 'CST-8' is not a time zone name") })
        let keyed = try F.parse(F.minimal + ["timezone: Asia/Shanghai"], environment: ["TZ": "CST-8"])
        #expect(!keyed.warnings.contains { $0.contains("TZ") })
    }
}
