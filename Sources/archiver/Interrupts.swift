import Dispatch
import Foundation
import Synchronization

/// Makes Ctrl-C and `docker stop` leave no half-written file behind: temporary outputs registered here are
/// removed before the process exits with 130 (SIGINT) or 143 (SIGTERM).
enum Interrupts {
    private static let pending = Mutex<Set<String>>([])
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    /// A handler that replaces the default (clean up and exit at once), for the daemon's bounded shutdown.
    private static let override = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    static func install() {
        for (signalNumber, status) in [(SIGINT, ExitStatus.interruptedINT), (SIGTERM, ExitStatus.interruptedTERM)] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                if let handler = override.withLock({ $0 }) {
                    handler(signalNumber)
                    return
                }
                cleanUp()
                Terminal.note("archiver: interrupted; nothing partial was left behind")
                _exit(status)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Routes SIGINT and SIGTERM to `handler` instead of exiting at once.
    static func handle(with handler: @escaping @Sendable (Int32) -> Void) {
        override.withLock { $0 = handler }
    }

    /// Registers a temporary file to delete if the process is interrupted.
    static func register(_ path: String) { _ = pending.withLock { $0.insert(path) } }

    /// Forgets a temporary file once it was renamed into place or removed.
    static func unregister(_ path: String) { _ = pending.withLock { $0.remove(path) } }

    /// Removes every registered temporary file.
    static func cleanUp() {
        for path in pending.withLock({ $0 }) { unlink(path) }
    }
}
