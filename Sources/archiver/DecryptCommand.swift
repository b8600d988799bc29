import Age
import ArchiverKit
import ArgumentParser

/// `archiver decrypt`: one age object back to a file, authenticating every chunk before the output appears.
struct DecryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt (and decompress) an age file made by archiver, age or rage, or an encrypt2bdy .e2bdy file.",
        discussion: """
            The output is written to a temporary file beside it and renamed into place only after the last chunk \
            authenticated; on any error nothing is left behind. With -o -, plaintext streams to stdout as each \
            chunk authenticates, and an error is reported by the exit status. A name ending in .gz.age means a \
            gzip payload and .zst.age a zstd payload; --max-size stops a file that decompresses to more (a bomb).
            """)

    @Option(name: .shortAndLong, help: "An identity file. Repeat for several.")
    var identity: [String] = []

    @Option(help: "A file holding a passphrase, for files encrypted with `age -p`.")
    var passphraseFile: String?

    @Option(help: "encrypt2bdy's Fernet key file (config/encrypt.key), for .e2bdy files made before December 2023.")
    var fernetKey: String?

    @Option(help: "A file holding encrypt2bdy's USER_PASSKEY, for .e2bdy files made from December 2023 (AES Crypt).")
    var aescryptPassphraseFile: String?

    @Flag(help: "Inflate the gzip payload (implied when the input name ends in .gz.age).")
    var gunzip = false

    @Flag(help: "Decompress the zstd payload (implied when the input name ends in .zst.age).")
    var zstd = false

    @Option(help: "Refuse to write more than this much plaintext (512MiB, 4GiB); nothing is left behind then.")
    var maxSize: String?

    @Option(name: .shortAndLong, help: "The output file, or - for stdout.")
    var output: String

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Argument(help: "The input file, or - for stdin.")
    var input: String

    func run() throws {
        if fernetKey != nil || aescryptPassphraseFile != nil {
            return try decryptE2bdy()
        }
        var identities: [any AgeIdentity] = []
        for file in identity { identities += try KeyFiles.identities(at: file) }
        if let passphraseFile {
            identities.append(ScryptIdentity(passphrase: try readPassphrase(passphraseFile)))
        }
        guard !identities.isEmpty else {
            throw ArchiverError(.usage, "no identity: pass -i IDENTITY_FILE (or --passphrase-file FILE)")
        }
        guard !(gunzip && zstd) else { throw ArchiverError(.usage, "--gunzip and --zstd exclude each other") }
        let payload: PayloadCompression =
            if gunzip || (!zstd && input.hasSuffix(".gz.age")) {
                .gzip(level: 0)
            } else if zstd || input.hasSuffix(".zst.age") {
                .zstd(level: 0)
            } else {
                .none
            }
        var options = DecodeOptions(identities: identities, compression: payload)
        if let maxSize {
            do throws(ValueProblem) {
                options.maxSize = Int64(try ConfigValue.byteCount(maxSize))
            } catch {
                throw ArchiverError(.usage, "--max-size '\(maxSize)' \(error.text)")
            }
        }
        try decode { source, sink in _ = try ObjectPipeline.decode(from: source, to: sink, options: options) }
    }

    /// Runs a decoder from the input into the output, which appears only when the decoder returned; on any error
    /// the temporary output is removed and the error names the input.
    func decode(_ decoder: (any ByteSource, any ByteSink) throws -> Void) throws {
        let source = try openInput(input)
        let out = try OutputFile(path: output, overwrite: force, mode: 0o600)
        do {
            try decoder(source, out.sink)
            try out.commit()
        } catch var error as ArchiverError {
            out.discard()
            if error.subject == nil { error.subject = input }
            throw error
        } catch {
            out.discard()
            throw error
        }
    }
}

/// A passphrase file's text without its trailing newlines (as `echo` or an editor leaves them).
func readPassphrase(_ path: String) throws -> String {
    var passphrase = try KeyFiles.readSmallTextFile(path, what: "passphrase file")
    while passphrase.hasSuffix("\n") || passphrase.hasSuffix("\r") { passphrase.removeLast() }
    return passphrase
}
