import ArchiverKit
import Testing

private typealias F = ConfigFixtures

@Suite("Config: zstd compression")
struct ZstdConfigTests {
    static let accepted = "use 0 (off), 1-9 (gzip level), auto, auto:N, zstd (level 3) or zstd:N (1-19)"

    @Test("zstd and zstd:N, globally, per source and from the environment")
    func accepted() throws {
        #expect(try ConfigValue.compression("zstd") == .zstd(level: 3))
        #expect(try ConfigValue.compression("zstd:19") == .zstd(level: 19))
        #expect(try ConfigValue.compression("zstd:1") == .zstd(level: 1))
        let c = try F.parse(F.minimal + ["    compression: zstd:19", "compression: zstd"]).config
        #expect(c.compression == .zstd(level: 3))
        #expect(c.sources[0].compression == .zstd(level: 19))
        let env = try F.parse(F.minimal, environment: ["ARCHIVER_COMPRESSION": "zstd:7"]).config
        #expect(env.compression == .zstd(level: 7))
        // `auto` stays gzip.
        #expect(try F.parse(F.minimal + ["compression: auto"]).config.compression == .auto(level: 6))
    }

    @Test(
        "levels outside 1-19 are refused with the accepted forms", arguments: ["zstd:0", "zstd:20", "zstd:", "zstd:-3"])
    func refused(_ text: String) throws {
        #expect(throws: ValueProblem("is not valid: \(Self.accepted)")) { try ConfigValue.compression(text) }
        let message = F.failure(F.minimal + ["compression: \"\(text)\""])
        #expect(message == "/cfg/config.yml:6: compression '\(text)' is not valid: \(Self.accepted)", "\(message)")
        let perSource = F.failure(F.minimal + ["    compression: \"\(text)\""])
        #expect(perSource.hasPrefix("/cfg/config.yml:6: sources[0].compression '\(text)' is not valid"), "\(perSource)")
    }
}
