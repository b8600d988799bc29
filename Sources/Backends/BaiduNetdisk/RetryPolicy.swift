import Foundation

/// How long to wait between attempts: exponential backoff with jitter for transient failures, long pauses for
/// Baidu's call quotas. Every delay is multiplied by `ARCHIVER_BAIDU_RETRY_SCALE` (default 1) so tests run fast.
struct RetryPolicy: Sendable {
    /// The first backoff delay, in seconds.
    var base = 1.0
    /// The longest backoff delay, in seconds.
    var cap = 30.0
    /// Attempts in all (the first included) for `.backoff` failures.
    var attempts = 8
    /// The pause after a call-quota answer (20012, 17, 19), in seconds, and how many such pauses one call may take.
    var longPause = 120.0
    var longPauses = 2
    /// The factor applied to every delay.
    var scale = RetryPolicy.environmentScale

    /// `ARCHIVER_BAIDU_RETRY_SCALE`, or 1.
    static var environmentScale: Double {
        guard let text = ProcessInfo.processInfo.environment["ARCHIVER_BAIDU_RETRY_SCALE"],
            let value = Double(text), value >= 0, value.isFinite
        else { return 1 }
        return value
    }

    /// The delay before retry number `retry` (1 for the first retry): base × 2^(retry−1), capped, with "equal
    /// jitter" (half fixed, half random) so parallel slices do not retry in lockstep.
    func backoff(retry: Int) -> Duration {
        let exponential = min(cap, base * pow(2, Double(max(0, retry - 1))))
        let jittered = exponential / 2 + Double.random(in: 0...(exponential / 2))
        return .milliseconds(Int64(jittered * scale * 1000))
    }

    /// The pause after a call-quota answer.
    var pause: Duration { .milliseconds(Int64(longPause * scale * 1000)) }

    /// Scales a fixed delay (a device-login poll is not scaled: Baidu sets it).
    func scaled(seconds: Double) -> Duration { .milliseconds(Int64(seconds * scale * 1000)) }
}
