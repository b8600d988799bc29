import ArchiverKit
import Foundation
import Testing

/// Retention buckets are cut in the config's zone, with ISO weeks, as restic cuts them.
@Suite struct RetentionBucketTests {
    func buckets(_ iso: String, zone: String) throws -> RunBuckets {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = try #require(TimeZone(identifier: zone))
        let date = try #require(ISO8601DateFormatter().date(from: iso))
        return RunBuckets(runID: 1, date: date, calendar: calendar)
    }

    @Test func aRunLateInTheUTCDayBelongsToTheNextDayInShanghai() throws {
        let utc = try buckets("2030-01-05T20:00:00Z", zone: "UTC")
        let shanghai = try buckets("2030-01-05T20:00:00Z", zone: "Asia/Shanghai")
        #expect(utc.day == 2030_01_05 && utc.hour == 2030_01_05_20)
        #expect(shanghai.day == 2030_01_06 && shanghai.hour == 2030_01_06_04)
    }

    @Test func weeksAreISOWeeksAcrossTheNewYear() throws {
        // Monday 31 December 2029 starts ISO week 1 of 2030; Sunday 30 December is in week 52 of 2029.
        #expect(try buckets("2029-12-31T12:00:00Z", zone: "UTC").week == 2030_01)
        #expect(try buckets("2029-12-30T12:00:00Z", zone: "UTC").week == 2029_52)
        let monday = try buckets("2029-12-31T12:00:00Z", zone: "UTC")
        #expect(monday.month == 2029_12 && monday.year == 2029)
    }
}
