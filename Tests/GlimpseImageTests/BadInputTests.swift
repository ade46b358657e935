// Bad uploads: each gets its own typed error with the right status and a message naming the problem, never a crash.
import GlimpseCore
import Testing
@_spi(Testing) import GlimpseImage

struct NotAJPEGTests {
    let pipeline = ImagePipeline(Preprocessing(size: 224))

    @Test func emptyBytesAreInvalidArgument() {
        #expect(throws: ImageError.empty) { try pipeline.preprocess(jpeg: []) }
        #expect(ImageError.empty.status == .invalidArgument)
        #expect(ImageError.empty.status.name == "INVALID_ARGUMENT")
    }

    @Test func randomBytesAreNotJPEG() {
        var generator = SplitMix64(seed: 42)
        let noise = [0x00] + (0..<4095).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(throws: ImageError.notJPEG(leadingBytes: Array(noise.prefix(12)))) { try pipeline.preprocess(jpeg: noise) }
    }

    static let otherFormats: [(bytes: [UInt8], format: String)] = [
        (Array("GIF89a".utf8) + [0x01, 0x00, 0x01, 0x00, 0x80, 0x00], "GIF"),
        ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13], "PNG"),
        (Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEBPVP8 ".utf8), "WebP"),
    ]

    @Test(arguments: otherFormats)
    func otherFormatsAreNamedInTheMessage(bytes: [UInt8], format: String) throws {
        let error = try #require(throws: ImageError.self) { try pipeline.preprocess(jpeg: bytes) }
        guard case .notJPEG = error else { Issue.record("expected notJPEG, got \(error)"); return }
        let message = error.description
        #expect(message.contains("looks like \(format)"), "\(message)")
        #expect(error.status == .invalidArgument)
    }

    @Test func startOfImageAloneIsTruncated() {
        #expect(throws: ImageError.truncated(after: 2)) { try pipeline.preprocess(jpeg: [0xFF, 0xD8]) }
    }

    @Test func endOfImageBeforeAnyFrameIsRefused() throws {
        let error = try #require(throws: ImageError.self) { try pipeline.preprocess(jpeg: [0xFF, 0xD8, 0xFF, 0xD9]) }
        guard case .decodeFailed = error else { Issue.record("got \(error)"); return }
    }

    @Test func sidesBelowEightPixelsAreTooSmall() {
        #expect(throws: ImageError.tooSmall(width: 7, height: 300, minimum: 8)) {
            try pipeline.preprocess(jpeg: flatGrayJPEG(width: 7, height: 300, level: 90))
        }
        #expect(throws: ImageError.tooSmall(width: 640, height: 4, minimum: 8)) {
            try pipeline.preprocess(jpeg: flatGrayJPEG(width: 640, height: 4, level: 90))
        }
    }

    @Test(arguments: [(8, 8), (8, 300), (100, 60), (33, 257)])
    func smallImagesFromEightPixelsAreUpscaled(width: Int, height: Int) throws {
        // Flat in, flat out: every value is exactly (200 - 127) / 128 whatever the upscaling did.
        let output = try pipeline.preprocess(jpeg: flatGrayJPEG(width: width, height: height, level: 200))
        #expect(output.allSatisfy { $0 == Float(200 - 127) / 128 })
    }

    @Test func wrongOutputBufferIsAnInternalError() throws {
        var output = [Float](repeating: 0, count: 10)
        let jpeg: [UInt8] = [0xFF, 0xD8]
        let error = output.withUnsafeMutableBufferPointer { buffer in
            #expect(throws: ImageError.self) { try jpeg.withUnsafeBytes { try pipeline.preprocess(jpeg: $0, into: buffer) } }
        }
        #expect(error == .outputSize(expected: 3 * 224 * 224, actual: 10))
        #expect(error?.status == .internal)
    }
}

@Suite(.enabled(if: TestData.haveImages, TestData.missingImages))
struct DamagedJPEGTests {
    let pipeline = ImagePipeline(Preprocessing(size: 224))

    @Test func truncatedAnywhereSaysHowManyBytesThereWere() throws {
        let cat = try TestData.jpeg("cat.jpg")
        let n = cat.count
        // Inside the header segments, right after the frame header, in the entropy data, and just the EOI lost.
        let cuts = [3, 4, 20, 100, 300, TestData.frameSizeOffset(in: cat)! + 10, 1000, n / 4, n / 2, n * 3 / 4, n - 2, n - 1]
        for cut in cuts {
            #expect(throws: ImageError.truncated(after: cut), "cut at \(cut)") {
                try pipeline.preprocess(jpeg: Array(cat.prefix(cut)))
            }
        }
        #expect(ImageError.truncated(after: 1812).description.contains("truncated after 1812 bytes"))
    }

    @Test func truncatedProgressiveIsTruncated() throws {
        let jpeg = try TestData.jpeg("cat_progressive.jpg")
        let cut = jpeg.count / 2
        #expect(throws: ImageError.truncated(after: cut)) { try pipeline.preprocess(jpeg: Array(jpeg.prefix(cut))) }
    }

    @Test func corruptDataInTheMiddleFailsToDecode() throws {
        var cat = try TestData.jpeg("cat.jpg")
        for i in cat.count / 2..<cat.count / 2 + 256 { cat[i] ^= 0x5A }
        let error = try #require(throws: ImageError.self) { try pipeline.preprocess(jpeg: cat) }
        guard case .decodeFailed(let message) = error else { Issue.record("got \(error)"); return }
        #expect(message.contains("Corrupt JPEG data"), "\(message)")
        #expect(error.status == .invalidArgument)
    }

    @Test func hugeDeclaredSizeIsRefusedFromTheHeader() throws {
        // 20000×20000 would decode to 2500×2500 at 1/8 (under maxDecodedPixels), but libjpeg's own
        // buffers follow the declared size, so the declared size has its own limit.
        let patched = TestData.withDeclaredSize(try TestData.jpeg("cat.jpg"), width: 20000, height: 20000)
        #expect(throws: ImageError.tooLarge(width: 20000, height: 20000, limit: 100_000_000)) {
            try pipeline.preprocess(jpeg: patched)
        }
        // Refused before the decode buffer was sized.
        #expect(pipeline.scratchByteCount < 1 << 20)
    }

    @Test func decodedSizeOverTheLimitIsRefused() throws {
        let small = ImagePipeline(Preprocessing(size: 224), maxDecodedPixels: 100_000)
        // 451×300 cannot be reduced (1/2 leaves 150 < 256) and decodes to 135,300 pixels.
        #expect(throws: ImageError.decodedTooLarge(width: 451, height: 300, limit: 100_000)) {
            try small.preprocess(jpeg: TestData.jpeg("cat.jpg"))
        }
        // 2400×1596 decodes at 1/4: 600×399 = 239,400.
        #expect(throws: ImageError.decodedTooLarge(width: 600, height: 399, limit: 100_000)) {
            try small.preprocess(jpeg: TestData.jpeg("cat_large.jpg"))
        }
    }

    @Test func onePixelImageIsTooSmall() throws {
        #expect(throws: ImageError.tooSmall(width: 1, height: 1, minimum: 8)) {
            try pipeline.preprocess(jpeg: TestData.jpeg("tiny_1x1.jpg"))
        }
    }

    @Test func tablesFromAnEarlierImageAreNotReused() throws {
        // libjpeg keeps Huffman tables on a decompressor between images. This file lacks the ones its first
        // scan needs (a progressive file's are image-specific, so libjpeg has no default for them): it must
        // fail on a pipeline that just decoded the intact file exactly as on a fresh one.
        let cat = try TestData.jpeg("cat_progressive.jpg")
        let stripped = TestData.withoutSegments(cat, marker: 0xC4)
        #expect(stripped.count < cat.count)
        let fresh = outcome(ImagePipeline(Preprocessing(size: 224)), stripped)
        guard case .failure(.decodeFailed) = fresh else { Issue.record("fresh pipeline: \(fresh)"); return }
        _ = try pipeline.preprocess(jpeg: cat)
        #expect(outcome(pipeline, stripped) == fresh)
    }

    @Test(arguments: ["cat.jpg", "cat_progressive.jpg", "cat_cmyk.jpg"])
    func damagedFilesFareTheSameWhateverCameBefore(_ name: String) throws {
        // Random damage to the image data: never a crash, and a long-lived pipeline answers exactly as a
        // fresh one (success or the same error). Damage stays clear of the headers: a corrupted size can
        // legitimately ask libjpeg for hundreds of megabytes, which is not what this test is about.
        let original = try TestData.jpeg(name)
        var generator = SplitMix64(seed: 3)
        for _ in 0..<40 {
            var damaged = original
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                damaged[Int.random(in: original.count / 8..<original.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            #expect(outcome(pipeline, damaged) == outcome(ImagePipeline(Preprocessing(size: 224)), damaged))
        }
    }

    @Test func aFailureLeavesThePipelineUsable() throws {
        let cat = try TestData.jpeg("cat.jpg")
        let before = try pipeline.preprocess(jpeg: cat)
        _ = try? pipeline.preprocess(jpeg: Array(cat.prefix(cat.count / 2)))
        var corrupt = cat
        for i in corrupt.count / 2..<corrupt.count / 2 + 256 { corrupt[i] ^= 0x5A }
        _ = try? pipeline.preprocess(jpeg: corrupt)
        #expect(try pipeline.preprocess(jpeg: cat) == before)
    }
}

/// What preprocessing one input came to, compact enough to print when two differ.
private enum Outcome: Equatable, CustomStringConvertible {
    case tensor(digest: Int)
    case failure(ImageError)

    var description: String {
        switch self {
        case .tensor(let digest): "tensor #\(digest)"
        case .failure(let error): "\(error)"
        }
    }
}

private func outcome(_ pipeline: ImagePipeline, _ jpeg: [UInt8]) -> Outcome {
    do {
        var hasher = Hasher()
        for value in try pipeline.preprocess(jpeg: jpeg) { hasher.combine(value.bitPattern) }
        return .tensor(digest: hasher.finalize())
    } catch {
        return .failure(error)
    }
}
