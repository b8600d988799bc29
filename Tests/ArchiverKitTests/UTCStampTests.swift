import ArchiverKit
import Foundation
import Testing

/// The timestamps written without ICU read exactly as Foundation's formatters wrote them before.
@Suite("UTC timestamps")
struct UTCStampTests {
    static let moments: [Double] = [0, 951_782_400.5, 1_795_814_525.1239, 4_102_444_799.999, -86_400.25, 1_700_000_000.0005]

    @Test("iso8601 matches ISO8601DateFormatter", arguments: moments)
    func iso8601(_ seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(UTCStamp.iso8601(date) == ISO8601DateFormatter().string(from: date))
    }

    /// The milliseconds are cut, not rounded (DateFormatter rounds .1239 up to .124, and .9996 to the next second),
    /// so the oracle is given the moment already cut.
    @Test("compact matches the catalog copies' old DateFormatter pattern", arguments: moments)
    func compact(_ seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        let cut = Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        #expect(UTCStamp.compact(date) == formatter.string(from: cut))
    }
}
