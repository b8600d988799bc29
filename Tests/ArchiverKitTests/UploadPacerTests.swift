import Foundation
import Synchronization
import Testing

@testable import ArchiverKit

/// The upload cap of `limits:`: the long-run rate is the cap, the burst is small, and outside the daily window
/// nothing waits. Time is simulated: sleeping advances the clock, so the figures are exact, not timed.
@Suite("Upload pacer")
struct UploadPacerTests {
    /// A clock that only the pacer's own sleeps advance.
    final class SimulatedTime: Sendable {
        let seconds = Mutex(0.0)
        let slept = Mutex(0.0)
        func now() -> Double { seconds.withLock { $0 } }
        func sleep(_ s: Double) {
            seconds.withLock { $0 += s }
            slept.withLock { $0 += s }
        }
    }

    private func pacer(kib: Int, window: String? = nil, at wall: String = "2026-11-27T12:00:00Z", time: SimulatedTime)
        throws -> UploadPacer
    {
        let limits = ArchiverConfig.Limits(
            uploadKiBPerSecond: kib, window: try window.map { try ConfigValue.timeWindow($0) })
        let date = try #require(ISO8601DateFormatter().date(from: wall))
        return UploadPacer(
            limits: limits, zone: try #require(TimeZone(identifier: "UTC")), rate: kib, clock: { time.now() },
            wallClock: { date }, sleep: { time.sleep($0) })
    }

    @Test func tenMiBAtOneMiBPerSecondTakesTenSecondsLessTheBurst() throws {
        let time = SimulatedTime()
        let pacer = try pacer(kib: 1024, time: time)
        for _ in 0..<160 { pacer.pace(64 * 1024) }  // 10 MiB in pipeline-sized writes
        // The bucket starts full with a quarter second of the cap; everything else is paid for at the cap.
        #expect(abs(time.now() - 9.75) < 0.001, "\(time.now())")
    }

    @Test func largeWritesPayTheirDebtSoTheRateStillHolds() throws {
        let time = SimulatedTime()
        let pacer = try pacer(kib: 512, time: time)
        for _ in 0..<4 { pacer.pace(4 << 20) }  // 16 MiB in slice-sized writes
        #expect(abs(time.now() - (32 - 0.25)) < 0.001, "\(time.now())")
    }

    @Test(arguments: [
        ("08:00-23:00", "2026-11-27T12:00:00Z", true),
        ("08:00-23:00", "2026-11-27T23:30:00Z", false),
        ("23:00-06:00", "2026-11-27T02:00:00Z", true),
        ("23:00-06:00", "2026-11-27T07:00:00Z", false),
    ])
    func theCapAppliesOnlyInsideItsWindow(window: String, wall: String, capped: Bool) throws {
        let time = SimulatedTime()
        let pacer = try pacer(kib: 1024, window: window, at: wall, time: time)
        for _ in 0..<32 { pacer.pace(64 * 1024) }  // 2 MiB
        #expect((time.slept.withLock { $0 } > 1) == capped, "slept \(time.slept.withLock { $0 }) s")
    }

    @Test func theWindowIsReadInTheConfiguredZone() throws {
        let limits = ArchiverConfig.Limits(uploadKiBPerSecond: 100, window: try ConfigValue.timeWindow("08:00-23:00"))
        let shanghai = try #require(TimeZone(identifier: "Asia/Shanghai"))
        let pacer = UploadPacer(limits: limits, zone: shanghai, rate: 100)
        // 23:30 UTC is 07:30 the next morning in Shanghai: outside the window there, inside it in UTC.
        let date = try #require(ISO8601DateFormatter().date(from: "2026-11-27T23:30:00Z"))
        #expect(!pacer.isCapped(at: date))
        let noon = try #require(ISO8601DateFormatter().date(from: "2026-11-27T04:00:00Z"))
        #expect(pacer.isCapped(at: noon))
    }

    @Test func aMeterWithoutACapCountsAndNeverWaits() {
        let meter = TransferMeter(limits: .init(), zone: .current)
        #expect(meter.pacer == nil)
        meter.countStored(1000)
        meter.countPlaintext(3000)
        #expect(meter.storedBytes == 1000 && meter.plaintextBytes == 3000)
    }
}
