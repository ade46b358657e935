// Finds the generated test images and goldens in the repository, and small helpers to read and doctor JPEGs.
import Foundation
import Testing
@_spi(Testing) import GlimpseImage

enum TestData {
    /// The repository root, found from this file (symlinks resolved, so scratch packages that link the
    /// test folder still find the real tree).
    static let root = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let images = root.appendingPathComponent("testdata/generated/images")
    static let goldens = root.appendingPathComponent("models/goldens")

    static let haveImages = FileManager.default.fileExists(atPath: images.appendingPathComponent("manifest.json").path)
    static let missingImages: Comment = "testdata/generated/images is missing: run scripts/make_test_images.py"

    static func jpeg(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: images.appendingPathComponent(name)))
    }

    struct ManifestEntry: Decodable, Sendable, CustomTestStringConvertible {
        var file: String
        var width: Int
        var height: Int
        var color_space: String
        var progressive: Bool
        var testDescription: String { file }
    }

    /// Every image the generator wrote, as its manifest describes it; empty when not generated yet.
    static func manifest() -> [ManifestEntry] {
        struct Manifest: Decodable { var images: [ManifestEntry] }
        guard let data = try? Data(contentsOf: images.appendingPathComponent("manifest.json")),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else { return [] }
        return manifest.images
    }

    struct Golden: Sendable, CustomTestStringConvertible {
        var model: String
        var size: Int
        var image: String
        var tensor: URL
        var testDescription: String { "\(model)/\(image)" }
    }

    /// Every (model, image) pair scripts/make_goldens.py wrote a Pillow reference tensor for, whose image
    /// exists; empty when neither has been generated.
    static func goldenTensors() -> [Golden] {
        struct Index: Decodable {
            struct Entry: Decodable { var input: String; var image: String? }
            var model: String
            var input_size: Int
            var entries: [Entry]
        }
        let models = (try? FileManager.default.contentsOfDirectory(atPath: goldens.path))?.sorted() ?? []
        return models.flatMap { model -> [Golden] in
            let directory = goldens.appendingPathComponent(model)
            guard let data = try? Data(contentsOf: directory.appendingPathComponent("index.json")),
                  let index = try? JSONDecoder().decode(Index.self, from: data) else { return [] }
            return index.entries.compactMap { entry in
                guard let image = entry.image,
                      FileManager.default.fileExists(atPath: images.appendingPathComponent(image).path) else { return nil }
                return Golden(model: index.model, size: index.input_size, image: image,
                              tensor: directory.appendingPathComponent(entry.input))
            }
        }
    }

    /// Offset of the frame header's height field (SOFn + 5), found by walking the segments as a decoder would
    /// (a byte search could hit an embedded thumbnail).
    static func frameSizeOffset(in jpeg: [UInt8]) -> Int? {
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            let marker = jpeg[i + 1]
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if (0xC0...0xCF).contains(marker) && ![0xC4, 0xC8, 0xCC].contains(marker) { return i + 5 }
            i += 2 + length
        }
        return nil
    }

    /// The JPEG without the header segments of type `marker` (those before the first scan).
    static func withoutSegments(_ jpeg: [UInt8], marker: UInt8) -> [UInt8] {
        var kept = Array(jpeg.prefix(2))
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF, jpeg[i + 1] != 0xDA {
            let end = i + 2 + (Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3]))
            if jpeg[i + 1] != marker { kept += jpeg[i..<end] }
            i = end
        }
        return kept + jpeg[i...]
    }

    /// The JPEG with its frame header claiming `width`×`height`; the pixel data is left as it was.
    static func withDeclaredSize(_ jpeg: [UInt8], width: Int, height: Int) -> [UInt8] {
        var patched = jpeg
        let offset = frameSizeOffset(in: jpeg)!
        patched[offset] = UInt8(height >> 8)
        patched[offset + 1] = UInt8(height & 0xFF)
        patched[offset + 2] = UInt8(width >> 8)
        patched[offset + 3] = UInt8(width & 0xFF)
        return patched
    }
}

extension ImagePipeline {
    /// Decodes and copies the RGB pixels out of the pipeline's scratch memory.
    func decodedPixels(_ jpeg: [UInt8]) throws -> (image: DecodedImage, rgb: [UInt8]) {
        try jpeg.withUnsafeBytes { bytes in
            let image = try decode(bytes)
            return (image, Array(UnsafeBufferPointer(start: image.pixels, count: image.width * image.height * 3)))
        }
    }
}

/// Mean and maximum absolute difference of two equally long float arrays.
func differences(_ a: [Float], _ b: [Float]) -> (mean: Double, max: Float) {
    precondition(a.count == b.count)
    var sum = 0.0
    var largest: Float = 0
    for (x, y) in zip(a, b) {
        let d = abs(x - y)
        sum += Double(d)
        largest = max(largest, d)
    }
    return (sum / Double(a.count), largest)
}
