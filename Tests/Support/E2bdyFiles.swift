public import Foundation

/// encrypt2bdy's `.e2bdy` files for tests: fresh ones made by Python's `cryptography` (Fernet) and `pyAesCrypt`
/// through `Tests/Fixtures/e2bdy/make_e2bdy.py`, and the small committed fixtures that pin the formats.
///
/// A missing Python module is an error, never a skip: `scripts/install-deps.sh` installs them.
public enum E2bdyFiles {
    /// `Tests/Fixtures/e2bdy` in the source tree.
    public static func fixtures(file: StaticString = #filePath) -> URL {
        URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/e2bdy", isDirectory: true)
    }

    /// The plaintext sizes the script makes, by name (`NAME.bin`, `NAME.fernet.e2bdy`, `NAME.aes.e2bdy`).
    public static let names = ["empty", "small", "block", "buffer", "text", "multi"]

    /// The Python the tests run: `ARCHIVER_PYTHON`, else `python3` on the PATH.
    public static var python: String {
        ProcessInfo.processInfo.environment["ARCHIVER_PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
    }

    /// Runs the script into `folder`: `encrypt.key`, `other.key`, `passkey.txt`, `passkey-nonascii.txt`,
    /// `wrong-passkey.txt`, and for each of `names` the plaintext and both encrypted forms, plus
    /// `text-nonascii.aes.e2bdy` under the non-ASCII passphrase.
    /// - Throws: when Python or its modules are missing, with the script's message.
    public static func generate(into folder: URL) throws {
        let script = fixtures().appendingPathComponent("make_e2bdy.py").path
        let result = try CommandRunner.run("/usr/bin/env", [python, script, folder.path])
        guard result.status == 0 else {
            throw Failure(
                description: "make_e2bdy.py failed (status \(result.status)): \(result.stderr) "
                    + "— run scripts/install-deps.sh to install cryptography and pyAesCrypt")
        }
    }

    /// Why the files could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String

        /// Creates a failure.
        /// - Parameter description: what went wrong.
        public init(description: String) { self.description = description }
    }

    /// Fresh files made once per test process and shared by the tests that only read them.
    public static let shared: Result<TemporaryDirectory, Failure> = {
        do {
            let folder = try TemporaryDirectory(prefix: "e2bdy")
            try generate(into: folder.url)
            return .success(folder)
        } catch let error as Failure {
            return .failure(error)
        } catch {
            return .failure(Failure(description: "\(error)"))
        }
    }()

    /// The shared folder, or the reason it could not be made (a test failure).
    public static func folder() throws -> URL { try shared.get().url }
}
