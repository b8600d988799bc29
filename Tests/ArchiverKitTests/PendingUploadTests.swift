import Foundation
import Testing

@testable import ArchiverKit

/// The catalog's record of unfinished uploads: what a killed run needs to resume, and nothing left of the
/// per-object secret once the content is recorded.
@Suite("Pending uploads")
struct PendingUploadTests {
    private static let repository = "5a1e0c9d-3b7f-4e21-8d6a-2c4b9f0e7a13"

    private func plan(secret: [UInt8], segment: Int = 0) -> PendingUpload {
        PendingUpload(
            repositoryID: Self.repository, source: "photos", path: Array("2024/a.mov".utf8), segment: segment,
            objectName: "\(Self.repository)/data/ab/abcdef", fingerprint: "10:20:30:40", secret: secret,
            compression: "gzip:6", recipients: "age1example", formatID: "archiver.v1", plaintextOffset: 0,
            plaintextSize: 10, plaintextSHA256: [UInt8](repeating: 1, count: 32), storedSize: 300,
            storedMD5: [UInt8](repeating: 2, count: 16), storedSHA256: [UInt8](repeating: 3, count: 32),
            headMD5: [UInt8](repeating: 4, count: 16), sliceSize: 128,
            sliceMD5s: [[UInt8](repeating: 5, count: 16), [UInt8](repeating: 6, count: 16), [UInt8](repeating: 7, count: 16)])
    }

    @Test("a plan round-trips, takes checkpoints, and is erased per segment or per file")
    func roundTrip() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pending-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
        try catalog.registerRepository(id: Self.repository, spec: "baidu:")
        let first = plan(secret: [UInt8](repeating: 9, count: 32))
        try catalog.savePendingUpload(first)
        try catalog.savePendingUpload(plan(secret: [UInt8](repeating: 8, count: 32), segment: 1))
        #expect(try catalog.pendingUpload(repositoryID: Self.repository, source: "photos", path: first.path, segment: 0) == first)
        try catalog.checkpointPendingUpload(
            repositoryID: Self.repository, source: "photos", path: first.path, segment: 0, checkpoint: #"{"done":[0]}"#)
        #expect(
            try catalog.pendingUpload(repositoryID: Self.repository, source: "photos", path: first.path, segment: 0)?
                .checkpoint == #"{"done":[0]}"#)
        #expect(try catalog.pendingUploadCount(repositoryID: Self.repository) == 2)
        try catalog.erasePendingUploads(repositoryID: Self.repository, source: "photos", path: first.path, segment: 1)
        #expect(try catalog.pendingUploadCount(repositoryID: Self.repository) == 1)
        try catalog.erasePendingUploads(repositoryID: Self.repository, source: "photos", path: first.path)
        #expect(try catalog.pendingUpload(repositoryID: Self.repository, source: "photos", path: first.path, segment: 0) == nil)
    }

    @Test("an erased secret is gone from the database file and its log")
    func secretErased() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pending-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("catalog.sqlite").path
        let catalog = try Catalog(path: path)
        try catalog.registerRepository(id: Self.repository, spec: "baidu:")
        // A pattern that appears nowhere else in a catalog.
        let secret: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: 0xA0 + $0 * 7) }
        let upload = plan(secret: secret)
        try catalog.savePendingUpload(upload)
        func fileHoldsSecret() -> Bool {
            [path, path + "-wal"].contains { file in
                guard let data = FileManager.default.contents(atPath: file) else { return false }
                return data.range(of: Data(secret)) != nil
            }
        }
        #expect(fileHoldsSecret(), "the test must see the secret before erasing it, or it proves nothing")
        try catalog.erasePendingUploads(repositoryID: Self.repository, source: "photos", path: upload.path)
        #expect(!fileHoldsSecret())
    }
}
