import ArchiverKit
import ArgumentParser
import CShims
import Foundation
import Logging
import Synchronization

/// `archiver daemon`: one run at start, then one per scheduled time, until SIGTERM or SIGINT.
///
/// Runs never overlap (one loop, and the catalog's run lock across processes). A signal takes no new work: the
/// run in progress stops before its next file, records what it finished, and the daemon exits 0; if the file in
/// flight cannot finish within `shutdown_timeout`, the process exits 0 at the bound anyway, which loses nothing
/// (every finished file and every confirmed slice is already committed to the catalog).
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Back up at start, then on the config's schedule, until stopped.",
        discussion: """
            The schedule is `schedule:` (or SYNC_INTERVAL), five cron fields or a macro, in `timezone:`. While a \
            target needs a new login (exit 9 from a one-shot run), scheduled runs are skipped and the daemon \
            resumes by itself once `archiver auth` has written a working login. On SIGTERM or SIGINT it exits 0 \
            within `shutdown_timeout` (default 8 s).
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: "CPU niceness for the daemon (0-19; 19 is the lowest priority).")
    var nice: Int32 = 10

    @Option(help: "I/O priority: idle, best-effort or normal (leave it as inherited).")
    var ioPriority: String = "best-effort"

    @Flag(help: "Skip the run at start; wait for the first scheduled time.")
    var noInitialRun = false

    func run() async throws {
        let (plan, config) = try MemoryBudget.plan(try options.load(), environment: ProcessInfo.processInfo.environment)
        let schedule = try DaemonSchedule(config: config)
        Terminal.note("daemon: \(plan.description)")
        try lowerPriority()
        let logger = Logger(label: "archiver.daemon")
        let shutdown = Shutdown(bound: config.shutdownTimeout)
        Interrupts.handle { signalNumber in shutdown.begin(signal: signalNumber) }
        Terminal.note("daemon: schedule '\(config.schedule)' in \(schedule.zoneName); shutdown within \(config.shutdownTimeout)")

        var first = !noInitialRun
        while !shutdown.isStopping {
            if !first {
                guard let next = schedule.next(after: Date()) else {
                    throw ArchiverError(.usage, "the schedule '\(config.schedule)' never runs again")
                }
                Terminal.note("daemon: next run at \(schedule.format(next))")
                let waited = await shutdown.run { try await Task.sleep(for: .seconds(max(0, next.timeIntervalSinceNow))) }
                if !waited { break }
            }
            first = false
            if let reason = await loginNeeded(config) {
                Terminal.warning("daemon: skipping this run, a login is needed: \(reason)")
                continue
            }
            let started = Date()
            let finished = await shutdown.run {
                do {
                    let outcome = try await BackupRunner(config: config, target: nil, logger: logger).run()
                    Terminal.note("daemon: run \(outcome.partial ? "partial" : "completed") in \(Self.seconds(started)); peak RSS \(Self.peakRSS())")
                    // The `keep:` policy after every run, so a daemon that runs for months does not fill the quota.
                    if RetentionEngine.hasPolicy(config) {
                        _ = try await ForgetRunner(config: config, target: nil, logger: logger).run()
                    }
                } catch let error as ArchiverError where error.code == .loginNeeded {
                    Terminal.warning("daemon: \(error.description); scheduled runs wait for the login")
                } catch is CancellationError {
                    throw CancellationError()
                } catch let error as ArchiverError {
                    Terminal.warning("daemon: run failed: \(error.description)")
                } catch {
                    // Whatever else one run meets (a database or system error) must not end the daemon: the next
                    // scheduled run may well succeed, and an exit 0 here would look like a clean stop.
                    Terminal.warning("daemon: run failed: \(error)")
                }
            }
            if !finished { break }
        }
        Terminal.note("daemon: stopped; everything finished so far is recorded")
        Interrupts.cleanUp()
    }

    /// The first target's login-needed reason, asked of the backends without transferring anything.
    private func loginNeeded(_ config: ArchiverConfig) async -> String? {
        for target in config.targets {
            if let backend = try? Targets.backend(for: target, config: config),
                let reason = await backend.status().loginNeeded
            {
                return "\(target.name): \(reason)"
            }
        }
        return nil
    }

    private func lowerPriority() throws {
        guard (0...19).contains(nice) else { throw ArchiverError(.usage, "--nice must be 0 to 19, not \(nice)") }
        if setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) != 0 {
            Terminal.warning("daemon: could not lower the CPU priority: \(String(cString: strerror(errno)))")
        }
        let io: (class: Int32, level: Int32)?
        switch ioPriority {
        case "idle": io = (3, 0)
        case "best-effort": io = (2, 7)
        case "normal": io = nil
        default: throw ArchiverError(.usage, "--io-priority must be idle, best-effort or normal, not '\(ioPriority)'")
        }
        if let io, archiver_set_io_priority(io.class, io.level) != 0 {
            Terminal.warning("daemon: could not lower the I/O priority: \(String(cString: strerror(errno)))")
        }
    }

    static func seconds(_ since: Date) -> String { String(format: "%.1f s", Date().timeIntervalSince(since)) }

    /// The process's peak resident set size so far.
    static func peakRSS() -> String {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return formatBytes(Int64(usage.ru_maxrss) * 1024)
    }
}

/// The daemon's stop: the first signal cancels the work in progress and arms a watchdog that exits 0 at the bound.
final class Shutdown: Sendable {
    private struct State {
        var stopping = false
        var current: Task<Void, any Error>?
    }

    private let state = Mutex(State())
    private let bound: Duration

    init(bound: Duration) { self.bound = bound }

    var isStopping: Bool { state.withLock { $0.stopping } }

    /// Runs `work` as the current task; false when a shutdown cancelled it (or had begun).
    func run(_ work: @escaping @Sendable () async throws -> Void) async -> Bool {
        let task = Task { try await work() }
        let stopping = state.withLock { state -> Bool in
            state.current = task
            return state.stopping
        }
        if stopping { task.cancel() }
        let result = await task.result
        state.withLock { $0.current = nil }
        if case .failure = result { return false }
        return !isStopping
    }

    /// Called from the signal handler.
    func begin(signal: Int32) {
        let (already, task) = state.withLock { state -> (Bool, Task<Void, any Error>?) in
            defer { state.stopping = true }
            return (state.stopping, state.current)
        }
        if already { return }
        Terminal.note("daemon: \(signal == SIGTERM ? "SIGTERM" : "SIGINT"): finishing the file in flight, then stopping")
        task?.cancel()
        let seconds = Double(bound.components.seconds) + Double(bound.components.attoseconds) / 1e18
        // A margin for the exit itself, so the process is gone before the bound (Docker's kill comes at 10 s).
        let deadline = max(0.2, seconds - 0.5)
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: deadline)
            Interrupts.cleanUp()
            Terminal.note("daemon: the file in flight did not finish within the shutdown bound; its confirmed slices are recorded; exiting")
            _exit(0)
        }
    }
}

/// The config's schedule in its zone, as the daemon uses it.
struct DaemonSchedule {
    let cron: CronSchedule
    let zone: ScheduleZone

    init(config: ArchiverConfig) throws {
        cron = config.cronSchedule
        zone = config.scheduleZone()
        if let note = zone.note { Terminal.warning(note) }
    }

    var zoneName: String { zone.description }

    func next(after date: Date) -> Date? { cron.nextRun(after: date, in: zone.zone) }

    func format(_ date: Date) -> String { zone.format(date) }
}
