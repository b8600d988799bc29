import ArchiverKit
import CShims
import ArgumentParser
import Foundation

/// The `archiver` command: the entry point and the one place that turns errors into exit codes.
@main
struct Archiver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archiver",
        abstract: "Back up folders as compressed, age-encrypted objects on a local disk, Baidu Netdisk or a mock remote.",
        discussion: ExitStatus.help,
        version: "0.1.0",
        subcommands: [
            InitCommand.self, BackupCommand.self, DaemonCommand.self, RestoreCommand.self, VerifyCommand.self,
            CheckCommand.self, StatusCommand.self, LsCommand.self, VersionsCommand.self, AuthCommand.self,
            ImportTokenCommand.self, ImportE2bdyCommand.self, KeyCommand.self,
            EncryptCommand.self, DecryptCommand.self, ScheduleCommand.self, ForgetCommand.self, CopyCommand.self,
        ]
    )

    static func main() async {
        MemoryTuning.apply()
        LogOutput.bootstrap()
        Interrupts.install()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ArchiverError {
            Interrupts.cleanUp()
            Terminal.error(error.description)
            Foundation.exit(ExitStatus.code(for: error))
        } catch {
            Interrupts.cleanUp()
            exit(withError: error)
        }
    }
}

/// Exit statuses, documented in `archiver --help` and docs/cli.md. Scripts rely on them: never renumber.
enum ExitStatus {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let partial: Int32 = 3
    static let integrity: Int32 = 4
    static let key: Int32 = 5
    static let targetUnavailable: Int32 = 6
    static let locked: Int32 = 7
    static let quota: Int32 = 8
    static let loginNeeded: Int32 = 9
    static let usage: Int32 = 64
    static let interruptedINT: Int32 = 130
    static let interruptedTERM: Int32 = 143

    static let help = """
        EXIT STATUS:
          0    success
          1    failure (I/O, backend, internal)
          3    partial: the run finished but some files failed (see `archiver status`)
          4    integrity: stored data failed authentication or a hash check (tampered, truncated)
               or problems `archiver check` left (see its --help)
          5    key: no identity matches, or a key or recipient is malformed
          6    target unavailable: the disk is not mounted or the target is not initialised
          7    locked: another archiver run holds the catalog
          8    quota: the target or the local disk is full
          9    login needed: run the `archiver auth` command it names
          64   usage: bad arguments or configuration
          130  interrupted by SIGINT (143 by SIGTERM)
        """

    static func code(for error: ArchiverError) -> Int32 {
        switch error.code {
        case .usage: usage
        case .integrity: integrity
        case .key: key
        case .targetUnavailable: targetUnavailable
        case .locked: locked
        case .quota: quota
        case .loginNeeded: loginNeeded
        case .interrupted: interruptedINT
        default: failure
        }
    }
}

/// Keeps peak RSS close to what the pipeline really holds. glibc gives each thread its own malloc arena and
/// raises its mmap threshold after the first large free, after which freed megabyte buffers stay in the arenas;
/// with four pipeline threads that doubled or tripled RSS. Two arenas and a fixed threshold return large buffers
/// to the kernel when freed.
enum MemoryTuning {
    static func apply() {
        archiver_tune_malloc(2, 256 * 1024)
    }
}
