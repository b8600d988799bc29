/// A wall-clock minute in the proleptic Gregorian calendar, with no time zone: what a cron expression talks about.
///
/// The arithmetic is done here rather than through `Calendar` so the search over fields is plain integer work;
/// only turning a wall-clock minute into an instant asks the time zone (see `CronSchedule+NextRun.swift`).
struct LocalTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    /// Days since 1970-01-01 of the date (Howard Hinnant's `days_from_civil`).
    var daysSinceEpoch: Int { Self.days(year: year, month: month, day: day) }

    /// Seconds since 1970-01-01 00:00 if this wall-clock time were UTC.
    var secondsAsIfUTC: Int { daysSinceEpoch * 86_400 + hour * 3_600 + minute * 60 }

    /// The day of the week, 0 for Sunday through 6 for Saturday, as cron numbers them.
    var weekday: Int { Self.weekday(year: year, month: month, day: day) }

    /// The wall-clock minute of a count of seconds since 1970 read as UTC; seconds within the minute are dropped.
    /// - Parameter seconds: seconds since 1970-01-01 00:00 in wall-clock terms (an instant plus its UTC offset).
    init(secondsAsIfUTC seconds: Int) {
        let days = seconds.floorDivided(by: 86_400)
        let rest = seconds - days * 86_400
        (year, month, day) = Self.civil(days: days)
        hour = rest / 3_600
        minute = rest % 3_600 / 60
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    static func < (a: LocalTime, b: LocalTime) -> Bool {
        (a.year, a.month, a.day, a.hour, a.minute) < (b.year, b.month, b.day, b.hour, b.minute)
    }

    var description: String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(hour)):\(two(minute))"
    }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The most days a month ever has (February 29 in leap years).
    static func maxDaysIn(month: Int) -> Int { month == 2 ? 29 : daysIn(month: month, year: 2001) }

    static func weekday(year: Int, month: Int, day: Int) -> Int {
        // 1970-01-01 was a Thursday.
        (days(year: year, month: month, day: day) + 4).floorModulo(7)
    }

    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = y.floorDivided(by: 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = z.floorDivided(by: 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension Int {
    fileprivate func floorDivided(by divisor: Int) -> Int {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }

    fileprivate func floorModulo(_ divisor: Int) -> Int {
        self - floorDivided(by: divisor) * divisor
    }
}
