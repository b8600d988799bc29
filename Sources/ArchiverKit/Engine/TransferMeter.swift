public import Foundation
import Synchronization

/// The bytes of one run's uploads: counted for progress, and paced by `limits:`.
///
/// One meter serves every object a run stores (every file, every segment), so the cap holds over the whole run
/// however many objects are in flight. The pipeline runs on a thread of its own, so pacing blocks that thread and
/// nothing else: the backend's senders drain what was already produced while the producer waits.
public final class TransferMeter: Sendable {
    private let plaintext = Atomic<Int64>(0)
    private let stored = Atomic<Int64>(0)
    let pacer: UploadPacer?

    /// Creates a meter.
    /// - Parameters:
    ///   - limits: the config's `limits:`; with no `upload_kib_per_s` nothing is paced.
    ///   - zone: the zone `limits.window` is read in; resolved only when there is a cap (a zone costs ICU's tables).
    public convenience init(limits: ArchiverConfig.Limits, zone: @autoclosure () -> TimeZone) {
        self.init(pacer: limits.uploadKiBPerSecond.map { UploadPacer(limits: limits, zone: zone(), rate: $0) })
    }

    init(pacer: UploadPacer?) { self.pacer = pacer }

    /// Plaintext bytes read for the objects being uploaded so far (the hashing pass of hashes-first backends is
    /// not counted: it sends nothing).
    public var plaintextBytes: Int64 { plaintext.load(ordering: .relaxed) }

    /// Stored (compressed, encrypted) bytes handed to the backend so far.
    public var storedBytes: Int64 { stored.load(ordering: .relaxed) }

    func countPlaintext(_ n: Int) { plaintext.add(Int64(n), ordering: .relaxed) }

    func countStored(_ n: Int) {
        pacer?.pace(n)
        stored.add(Int64(n), ordering: .relaxed)
    }
}

/// A token bucket over bytes, active only inside the config's daily window.
///
/// Debt, not refusal: a write of n bytes always proceeds, and the writer then sleeps until the bucket is back to
/// zero, so the long-run rate is the cap whatever the write sizes. The burst is a quarter second of the cap, which
/// keeps the rate smooth at the scale a home router sees.
final class UploadPacer: Sendable {
    private struct State {
        var balance: Double
        var last: Double
        var windowCheckedAt: Double = -.infinity
        var windowOpen = true
    }

    /// Bytes per second.
    let rate: Double
    let burst: Double
    let window: ArchiverConfig.TimeWindow?
    let zone: TimeZone
    private let state: Mutex<State>
    private let clock: @Sendable () -> Double
    private let wallClock: @Sendable () -> Date
    private let sleep: @Sendable (Double) -> Void

    /// - Parameters:
    ///   - limits: the cap and its window.
    ///   - zone: the window's zone.
    ///   - rate: the cap in KiB/s.
    ///   - clock: monotonic seconds (injected by tests).
    ///   - wallClock: the time of day for the window (injected by tests).
    ///   - sleep: blocks the calling thread for that many seconds (injected by tests).
    init(
        limits: ArchiverConfig.Limits, zone: TimeZone, rate: Int,
        clock: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
        wallClock: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) }
    ) {
        self.rate = Double(rate) * 1024
        self.burst = max(64 * 1024, self.rate / 4)
        self.window = limits.window
        self.zone = zone
        self.clock = clock
        self.wallClock = wallClock
        self.sleep = sleep
        self.state = Mutex(State(balance: self.burst, last: clock()))
    }

    /// Takes `n` bytes from the bucket and sleeps off any debt.
    func pace(_ n: Int) {
        let now = clock()
        let wait = state.withLock { s -> Double in
            if now - s.windowCheckedAt >= 1 {
                s.windowCheckedAt = now
                s.windowOpen = isCapped(at: wallClock())
            }
            guard s.windowOpen else {
                s.balance = burst
                s.last = now
                return 0
            }
            s.balance = min(burst, s.balance + (now - s.last) * rate) - Double(n)
            s.last = now
            return s.balance < 0 ? -s.balance / rate : 0
        }
        if wait > 0 { sleep(wait) }
    }

    /// True when the cap applies at `date`: always without a window, else inside it (in the config's zone).
    func isCapped(at date: Date) -> Bool {
        guard let window else { return true }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return window.contains(minuteOfDay: (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
    }
}

/// Counts the plaintext an upload reads.
final class MeteredSource: ByteSource, @unchecked Sendable {
    private let inner: any ByteSource
    private let meter: TransferMeter

    init(_ inner: any ByteSource, meter: TransferMeter) {
        self.inner = inner
        self.meter = meter
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = try inner.read(into: buffer)
        meter.countPlaintext(n)
        return n
    }
}

/// Counts and paces the stored bytes an upload writes.
final class MeteredSink: ByteSink, @unchecked Sendable {
    private let inner: any ByteSink
    private let meter: TransferMeter

    init(_ inner: any ByteSink, meter: TransferMeter) {
        self.inner = inner
        self.meter = meter
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        meter.countStored(bytes.count)
        try inner.write(bytes)
    }
}
