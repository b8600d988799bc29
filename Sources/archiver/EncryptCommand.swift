import Age
import ArchiverKit
import ArgumentParser

/// `archiver encrypt`: one file to one age object, streaming, readable with stock `age` and `gunzip`.
struct EncryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Compress (optionally) and encrypt a file to age recipients.",
        discussion: """
            The output is a standard age file; when compressed, its payload is gzip or zstd, so \
            `age -d -i key.txt FILE.gz.age | gunzip` or `age -d -i key.txt FILE.zst.age | zstd -d` recovers it with \
            stock tools. Name compressed outputs *.gz.age or *.zst.age so `archiver decrypt` knows to decompress them.
            """)

    @Option(name: .customShort("r"), help: "An age recipient (age1…). Repeat for several.")
    var recipients: [String] = []

    @Option(name: .customShort("R"), help: "A file of recipients, one per line.")
    var recipientsFiles: [String] = []

    @Option(
        name: .customLong("compress"),
        help: "0 (off), 1-9 (gzip level), auto (gzip where it pays), auto:N, zstd (level 3) or zstd:N (1-19).")
    var compression: String = "auto"

    @Option(name: .shortAndLong, help: "The output file, or - for stdout.")
    var output: String

    @Flag(help: "Replace the output if it exists.")
    var force = false

    @Argument(help: "The input file, or - for stdin.")
    var input: String

    func run() throws {
        let mode = try CompressionMode(parsing: compression)
        let recipients = try KeyFiles.recipients(recipients, files: recipientsFiles)
        guard !recipients.isEmpty else {
            throw ArchiverError(.usage, "no recipients: pass -r age1… or -R FILE (make a key with `archiver key generate --output key.txt`)")
        }
        let source = try openInput(input)
        let out = try OutputFile(path: output, overwrite: force)
        var options = EncodeOptions(recipients: recipients, compression: mode)
        options.fileName = input == "-" ? nil : input
        options.digests = []
        let result: EncodedObject
        do {
            result = try ObjectPipeline.encode(from: source, to: out.sink, options: options)
            try out.commit()
        } catch {
            out.discard()
            throw error
        }
        let wanted = result.compression.suffix(encrypted: true)
        if out.isRegularFile && !output.hasSuffix(wanted) {
            let how =
                switch result.compression {
                case .none: "not compressed"
                case .gzip: "compressed (gzip); decrypt with --gunzip"
                case .zstd: "compressed (zstd); decrypt with --zstd"
                }
            Terminal.warning("\(output) was stored \(how); a name ending in \(wanted) records that")
        }
    }
}
