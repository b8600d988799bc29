import ArchiverKit
import Testing

/// `files_in_flight:`: how many small files a backup stores at once, bounded so memory stays within the plan.
@Suite("Config: files_in_flight")
struct FilesInFlightConfigTests {
    @Test("absent leaves the choice to the engine; a value in range is kept")
    func values() throws {
        #expect(try ConfigFixtures.parse(ConfigFixtures.minimal).config.filesInFlight == nil)
        #expect(try ConfigFixtures.parse(ConfigFixtures.minimal + ["files_in_flight: 3"]).config.filesInFlight == 3)
    }

    @Test("zero or too many are refused with the line and the allowed range")
    func outOfRange() {
        #expect(ConfigFixtures.failure(ConfigFixtures.minimal + ["files_in_flight: 0"]).contains("config.yml:6"))
        let message = ConfigFixtures.failure(ConfigFixtures.minimal + ["files_in_flight: 64"])
        #expect(message.contains("files_in_flight") && message.contains("1 to 8"), "\(message)")
    }
}
