import Age
import ArchiverKit
import ArgumentParser

/// `archiver decrypt`: one age object back to a file, authenticating every chunk before the output appears.
struct DecryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt (and inflate) an age file made by archiver, age or rage.",
        discussion: """
            The output is written to a temporary file beside it and renamed into place only after the last chunk \
            authenticated; on any error nothing is left behind. With -o -, plaintext streams to stdout as each \
            chunk authenticates, and an error is reported by the exit status.
            """)

    @Option(name: .shortAndLong, help: "An identity file. Repeat for several.")
    var identity: [String] = []

    @Option(help: "A file holding a passphrase, for files encrypted with `age -p`.")
    var passphraseFile: String?

    @Flag(help: "Inflate the gzip payload (implied when the input name ends in .gz.age).")
    var gunzip = false

    @Option(name: .shortAndLong, help: "The output file, or - for stdout.")
    var output: String

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Option(help: "Refuse a plaintext larger than this (such as 20GiB): a small hostile object cannot fill the disk.")
    var maxSize: String?

    @Argument(help: "The input file, or - for stdin.")
    var input: String

    func run() throws {
        var identities: [any AgeIdentity] = []
        for file in identity { identities += try KeyFiles.identities(at: file) }
        if let passphraseFile {
            var passphrase = try KeyFiles.readSmallTextFile(passphraseFile, what: "passphrase file")
            while passphrase.hasSuffix("\n") || passphrase.hasSuffix("\r") { passphrase.removeLast() }
            identities.append(ScryptIdentity(passphrase: passphrase))
        }
        guard !identities.isEmpty else {
            throw ArchiverError(.usage, "no identity: pass -i IDENTITY_FILE (or --passphrase-file FILE)")
        }
        let compressed = gunzip || input.hasSuffix(".gz.age")
        var limit: Int64?
        if let maxSize {
            do {
                limit = Int64(try ConfigValue.byteCount(maxSize))
            } catch {
                throw ArchiverError(.usage, "--max-size '\(maxSize)' \(error.text)")
            }
        }
        let source = try openInput(input)
        let out = try OutputFile(path: output, overwrite: force, mode: 0o600)
        let options = DecodeOptions(identities: identities, compression: compressed ? .gzip(level: 0) : .none)
        do {
            let sink: any ByteSink = limit.map { SizeCappedSink(out.sink, limit: $0) } ?? out.sink
            _ = try ObjectPipeline.decode(from: source, to: sink, options: options)
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
