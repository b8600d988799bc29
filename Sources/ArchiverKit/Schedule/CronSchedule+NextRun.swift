public import Foundation

extension CronSchedule {
    /// How far ahead the search looks. A valid expression runs within 40 years (February 29 on one weekday skips
    /// 2100); the bound only keeps a search from running on.
    static let searchYears = 400

    /// The first run strictly after a moment, in a time zone.
    ///
    /// The search walks the fields from the year down to the minute in wall-clock time, so it costs a few steps
    /// per field, not one per minute. Daylight saving time: a wall-clock time that a spring-forward skips runs at
    /// the first instant after the gap (03:00 CEST for 02:30 on the night Berlin skips 02:00-03:00), once, however
    /// many skipped times the expression names; a wall-clock time that a fall-back repeats runs at its first
    /// occurrence only.
    /// - Parameters:
    ///   - date: the moment to look after; a run at exactly this moment is not returned.
    ///   - zone: the time zone the fields are read in.
    /// - Returns: the next run, or nil when there is none within 400 years.
    public func nextRun(after date: Date, in zone: TimeZone) -> Date? {
        let now = Int(date.timeIntervalSince1970.rounded(.down))
        let wallNow = now + zone.secondsFromGMT(for: date)
        let start = LocalTime(secondsAsIfUTC: wallNow - wallNow.modulo(60) + 60)
        for year in start.year...(start.year + Self.searchYears) {
            for month in month.values where year > start.year || month >= start.month {
                let inStartMonth = year == start.year && month == start.month
                let lastDay = LocalTime.daysIn(month: month, year: year)
                var day = inStartMonth ? start.day : 1
                while day <= lastDay {
                    defer { day += 1 }
                    guard dayMatches(day: day, weekday: LocalTime.weekday(year: year, month: month, day: day)) else {
                        continue
                    }
                    let inStartDay = inStartMonth && day == start.day
                    for hour in hour.values where !inStartDay || hour >= start.hour {
                        let inStartHour = inStartDay && hour == start.hour
                        for minute in minute.values where !inStartHour || minute >= start.minute {
                            let wall = LocalTime(year: year, month: month, day: day, hour: hour, minute: minute)
                            let run = Self.instant(of: wall, in: zone)
                            // Not after `date`: a repeated time already run, or a skipped time whose gap ended.
                            if run > date { return run }
                        }
                    }
                }
            }
        }
        return nil
    }

    /// The next runs after a moment, in order.
    /// - Parameters:
    ///   - date: the moment to look after.
    ///   - zone: the time zone the fields are read in.
    ///   - count: how many runs.
    /// - Returns: up to `count` runs; fewer only when the search found no more.
    public func nextRuns(after date: Date, in zone: TimeZone, count: Int) -> [Date] {
        var runs: [Date] = []
        var last = date
        while runs.count < count, let next = nextRun(after: last, in: zone) {
            runs.append(next)
            last = next
        }
        return runs
    }

    /// True when a moment's wall-clock minute in a zone matches every field; false for a run moved to the end of
    /// a daylight saving gap (unless the end of the gap matches too).
    /// - Parameters:
    ///   - date: the moment; its seconds are ignored.
    ///   - zone: the time zone the fields are read in.
    public func matches(_ date: Date, in zone: TimeZone) -> Bool {
        let wall = LocalTime(
            secondsAsIfUTC: Int(date.timeIntervalSince1970.rounded(.down)) + zone.secondsFromGMT(for: date))
        return minute.contains(wall.minute) && hour.contains(wall.hour) && month.contains(wall.month)
            && dayMatches(day: wall.day, weekday: wall.weekday)
    }

    /// The instant a wall-clock minute stands for in a zone: itself when it occurs once, its first occurrence
    /// when a fall-back repeats it, and the end of the gap when a spring-forward skips it.
    static func instant(of wall: LocalTime, in zone: TimeZone) -> Date {
        let naive = wall.secondsAsIfUTC
        func offset(_ t: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))) }
        // The offsets a day either side; zones do not change their offset twice within two days.
        let before = offset(naive - 86_400)
        let after = offset(naive + 86_400)
        if before == after { return Date(timeIntervalSince1970: Double(naive - before)) }
        let candidates = [naive - before, naive - after]
        let occurrences = candidates.filter { naive - offset($0) == $0 }
        if let first = occurrences.min() { return Date(timeIntervalSince1970: Double(first)) }

        // In a gap: the first second whose wall-clock time is past the wanted one is where the gap ends.
        var low = candidates.min() ?? naive
        var high = candidates.max() ?? naive
        while low < high {
            let mid = low + (high - low) / 2
            if mid + offset(mid) > naive { high = mid } else { low = mid + 1 }
        }
        return Date(timeIntervalSince1970: Double(low))
    }
}

extension Int {
    fileprivate func modulo(_ divisor: Int) -> Int {
        let r = self % divisor
        return r < 0 ? r + divisor : r
    }
}
