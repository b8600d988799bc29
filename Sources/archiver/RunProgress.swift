import ArchiverKit
import Foundation
import Synchronization

/// How a run shows its progress.
enum ProgressStyle: Equatable {
    /// A terminal: one line redrawn every second with the file in flight and the run's total, MB/s and ETA.
    case live
    /// A log (the daemon, a pipe): a line per stored file and a progress line at a steady interval.
    case log(every: Double)
    /// `--json`: one JSON object per line on stdout (events, then the summary); nothing for people on stdout.
    case json

    /// The style for a one-shot command: JSON when asked, live on a terminal, else log lines every 30 s.
    static func forCommand(json: Bool) -> ProgressStyle {
        json ? .json : (isatty(2) == 1 ? .live : .log(every: 30))
    }
}

/// Follows a backup run: which file is in flight, how many bytes the meter has seen, what is left.
///
/// The engine reports files as they start and finish; the bytes inside a file come from the run's
/// `TransferMeter`, sampled once a second by a ticker, so the pipeline itself never waits for the display.
final class RunProgress: BackupProgress, Sendable {
    private struct State {
        var filesDone: Int64 = 0
        var bytesDone: Int64 = 0
        var current: (path: String, size: Int64, meterAtStart: Int64, started: Double)?
        /// (time, meter bytes) samples for a moving rate over the last seconds.
        var samples: [(Double, Int64)] = []
        var totalFiles: Int64?
        var totalBytes: Int64?
        var lastLogLine: Double = 0
        var lineShown = false
    }

    let style: ProgressStyle
    let meter: TransferMeter
    private let target: String
    private let state = Mutex(State())
    private let ticker = Mutex<Task<Void, Never>?>(nil)
    private let started = ProgressClock.now()

    /// - Parameters:
    ///   - style: how to show it.
    ///   - meter: the run's meter.
    ///   - target: the target's name, for JSON events.
    init(style: ProgressStyle, meter: TransferMeter, target: String) {
        self.style = style
        self.meter = meter
        self.target = target
    }

    /// Sets what the run will store, from a scan done first (live style only), so the total gets an ETA.
    func expect(files: Int64, bytes: Int64) {
        state.withLock {
            $0.totalFiles = files
            $0.totalBytes = bytes
        }
    }

    /// Starts the once-a-second ticker.
    func start() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self, !Task.isCancelled else { return }
                self.tick()
            }
        }
        ticker.withLock { $0 = task }
    }

    /// Stops the ticker and clears the live line.
    func stop() {
        ticker.withLock {
            $0?.cancel()
            $0 = nil
        }
        if style == .live { clearLine() }
    }

    func storing(path: String, size: Int64) {
        let bytes = meter.plaintextBytes
        state.withLock { $0.current = (path, size, bytes, ProgressClock.now()) }
    }

    func finished(path: String, outcome: String) {
        let size = state.withLock { s -> Int64 in
            let size = s.current?.path == path ? s.current?.size ?? 0 : 0
            s.filesDone += 1
            s.bytesDone += size
            s.current = nil
            return size
        }
        switch style {
        case .json:
            let failed = outcome.hasPrefix("failed: ")
            var event: [String: Any] = [
                "event": "file", "target": target, "path": path, "size": size,
                "outcome": failed ? "failed" : outcome,
            ]
            if failed { event["message"] = String(outcome.dropFirst("failed: ".count)) }
            printJSON(event)
        case .live:
            if !outcome.hasPrefix("failed") {
                clearLine()
                Terminal.note("  \(outcome): \(path)")
            }
        case .log:
            if !outcome.hasPrefix("failed") { Terminal.note("  \(outcome): \(path)") }
        }
    }

    /// One sample: redraw the live line, or write a log line or a JSON event when one is due.
    func tick() {
        let now = ProgressClock.now()
        let bytes = meter.plaintextBytes
        let snapshot = state.withLock { s -> State in
            s.samples.append((now, bytes))
            if s.samples.count > 11 { s.samples.removeFirst(s.samples.count - 11) }
            return s
        }
        let rate = Self.rate(snapshot.samples)
        switch style {
        case .live:
            let line = describe(snapshot, bytes: bytes, rate: rate, width: Self.terminalWidth())
            FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
            state.withLock { $0.lineShown = true }
        case .log(let every):
            guard snapshot.current != nil, now - snapshot.lastLogLine >= every, now - started >= every else { return }
            state.withLock { $0.lastLogLine = now }
            Terminal.note("progress: " + describe(snapshot, bytes: bytes, rate: rate, width: nil))
        case .json:
            guard let current = snapshot.current else { return }
            let done = max(0, bytes - current.meterAtStart)
            var event: [String: Any] = [
                "event": "progress", "target": target, "files_done": snapshot.filesDone,
                "bytes_done": snapshot.bytesDone + done, "mb_per_s": (rate / 1e4).rounded() / 100,
                "path": current.path, "file_bytes_done": done, "file_size": current.size,
                "seconds": (now - started).rounded(),
            ]
            if rate > 0 { event["file_eta_s"] = (Double(max(0, current.size - done)) / rate).rounded() }
            printJSON(event)
        }
    }

    /// Bytes per second over the samples kept (the last ten seconds).
    static func rate(_ samples: [(Double, Int64)]) -> Double {
        guard let first = samples.first, let last = samples.last, last.0 > first.0 else { return 0 }
        return Double(last.1 - first.1) / (last.0 - first.0)
    }

    /// `[3/120 files, 1.2 GiB of 3.4 GiB, 45.3 MB/s, ETA 0:52] video.mp4 340 MiB of 1.1 GiB, ETA 0:17`
    private func describe(_ s: State, bytes: Int64, rate: Double, width: Int?) -> String {
        let inFile = s.current.map { max(0, min($0.size, bytes - $0.meterAtStart)) } ?? 0
        let done = s.bytesDone + inFile
        var total = "\(s.filesDone)" + (s.totalFiles.map { " of \($0)" } ?? "") + " files, \(formatBytes(done))"
        if let totalBytes = s.totalBytes { total += " of \(formatBytes(totalBytes))" }
        total += String(format: ", %.1f MB/s", rate / 1e6)
        if let totalBytes = s.totalBytes, rate > 0 {
            total += ", ETA " + Self.clock(Double(max(0, totalBytes - done)) / rate)
        }
        var line = "[\(total)]"
        if let current = s.current {
            var amounts = " \(formatBytes(inFile)) of \(formatBytes(current.size))"
            if rate > 0 { amounts += ", ETA " + Self.clock(Double(max(0, current.size - inFile)) / rate) }
            var path = current.path
            if let width, line.count + 1 + path.count + amounts.count > width - 1 {
                // Keep the end of the path: the file name says more than the folders above it.
                path = "…" + path.suffix(max(8, width - 1 - line.count - amounts.count - 2))
            }
            line += " " + path + amounts
        }
        if let width, line.count > width - 1 { line = String(line.prefix(width - 1)) }
        return line
    }

    private func clearLine() {
        let shown = state.withLock { s -> Bool in
            defer { s.lineShown = false }
            return s.lineShown
        }
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }

    /// `h:mm:ss` or `m:ss`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    private static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 20 { return Int(size.ws_col) }
        return 80
    }
}

/// Monotonic seconds for progress rates.
enum ProgressClock {
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
