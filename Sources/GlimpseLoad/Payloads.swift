// What is sent: a set of JPEGs, made unique per request by a comment segment, or repeated for cache hits.
import Foundation
import GlimpseCore
import GlimpseImage

/// The JPEGs a run draws from.
public struct ImageSet: Sendable {
    public var names: [String]
    public var jpegs: [[UInt8]]
    /// Where they came from, for the report ("testdata/generated/images", "synthetic").
    public var source: String

    public init(names: [String], jpegs: [[UInt8]], source: String) {
        precondition(names.count == jpegs.count)
        (self.names, self.jpegs, self.source) = (names, jpegs, source)
    }

    public var count: Int { jpegs.count }

    /// Every *.jpg / *.jpeg file in `directory` (not recursive), in name order.
    public static func load(directory: String) throws(LoadError) -> ImageSet {
        let files: [String]
        do { files = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw LoadError(.notFound, "cannot list --images \(directory): \(error.localizedDescription)")
        }
        let names = files.filter { ["jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !names.isEmpty else { throw LoadError(.notFound, "no .jpg or .jpeg files in \(directory)") }
        var jpegs: [[UInt8]] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: (directory as NSString).appendingPathComponent(name)) else {
                throw LoadError(.notFound, "cannot read \(directory)/\(name)")
            }
            jpegs.append([UInt8](data))
        }
        return ImageSet(names: names, jpegs: jpegs, source: directory)
    }

    /// `count` photo-sized JPEGs made here: smooth colour gradients with a few soft blobs and some
    /// pixel noise, so the encoder and the server's decoder do roughly the work a photo costs.
    public static func synthetic(count: Int = 8, width: Int = 640, height: Int = 480, seed: UInt64 = 1) throws(LoadError) -> ImageSet {
        var random = SplitMix64(seed: seed)
        var jpegs: [[UInt8]] = []
        for _ in 0..<count {
            let phase = (0..<3).map { _ in Double.random(in: 0..<(2 * Double.pi), using: &random) }
            let blobs = (0..<4).map { _ in
                (x: Double.random(in: 0..<Double(width), using: &random), y: Double.random(in: 0..<Double(height), using: &random),
                 r: Double.random(in: 30..<120, using: &random), c: Int.random(in: 0..<3, using: &random))
            }
            var rgb = [UInt8](repeating: 0, count: width * height * 3)
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<3 {
                        var v = 128 + 90 * sin(Double(x) / 97 + Double(y) / 151 * Double(c + 1) + phase[c])
                        for b in blobs where b.c == c {
                            let d2 = ((Double(x) - b.x) * (Double(x) - b.x) + (Double(y) - b.y) * (Double(y) - b.y)) / (b.r * b.r)
                            v += 80 * exp(-d2)
                        }
                        v += Double(Int(truncatingIfNeeded: random.next() & 15) - 8)
                        rgb[(y * width + x) * 3 + c] = UInt8(max(0, min(255, v)))
                    }
                }
            }
            do { jpegs.append(try encodeJPEG(rgb: rgb, width: width, height: height, quality: 90)) } catch {
                throw LoadError(.internal, "cannot encode a synthetic image: \(error)")
            }
        }
        return ImageSet(names: (0..<count).map { "synthetic-\($0).jpg" }, jpegs: jpegs, source: "synthetic \(width)x\(height)")
    }

    /// The same set without the images at `indices` (ones the server refused).
    public func removing(_ indices: Set<Int>) -> ImageSet {
        let kept = (0..<count).filter { !indices.contains($0) }
        return ImageSet(names: kept.map { names[$0] }, jpegs: kept.map { jpegs[$0] }, source: source)
    }
}

public enum JPEGComment {
    /// `jpeg` with a COM (FF FE) segment holding `text` inserted right after SOI (FF D8).
    ///
    /// The server's cache keys on the payload bytes, so this makes a distinct request, while a
    /// decoder skips COM segments: the pixels, and the work of decoding them, are unchanged.
    /// A COM segment is legal anywhere between markers before SOS, including first.
    public static func inserting(_ text: String, into jpeg: [UInt8]) -> [UInt8] {
        precondition(jpeg.count >= 2 && jpeg[0] == 0xFF && jpeg[1] == 0xD8, "not a JPEG (no SOI)")
        let payload = Array(text.utf8.prefix(65_533))
        let length = payload.count + 2 // the segment length counts its own two bytes
        var out: [UInt8] = []
        out.reserveCapacity(jpeg.count + length + 2)
        out += [0xFF, 0xD8, 0xFF, 0xFE, UInt8(length >> 8), UInt8(length & 0xFF)]
        out += payload
        out += jpeg[2...]
        return out
    }
}

/// Which bytes request number `index` carries: a repeat of an image the server has already answered
/// (a cache hit) with probability `hitRatio`, otherwise an image no request has carried before (a miss).
///
/// Repeats are drawn from a small "hot" set that the runner sends, and waits for, before each measured
/// window: so a repeat is a hit, not a join of an identical call still in flight. The decision for an
/// index is a hash of (seed, index), not a shared generator, so any thread can take any index and a
/// seed reproduces the same mix.
public struct PayloadMix: Sendable {
    public enum Choice: Equatable, Sendable {
        /// A fresh image: `base` is the image set entry it is a copy of.
        case unique(base: Int)
        /// The `hot`-th entry of the hot set.
        case repeated(hot: Int)
    }

    public let images: ImageSet
    public let hitRatio: Double
    public let seed: UInt64
    /// Distinguishes this run's images from an earlier run's against the same (still warm) server.
    public let runTag: String
    /// The images repeats are drawn from; few, so every one stays recently used in the server's LRU cache.
    public let hot: [[UInt8]]

    public init(images: ImageSet, hitRatio: Double, seed: UInt64, runTag: String, hotCount: Int = 4) {
        precondition(images.count > 0 && (0...1).contains(hitRatio))
        (self.images, self.hitRatio, self.seed, self.runTag) = (images, hitRatio, seed, runTag)
        hot = (0..<max(1, min(hotCount, images.count))).map { k in
            JPEGComment.inserting("glimpse-load run \(runTag) hot \(k)", into: images.jpegs[k % images.count])
        }
    }

    public func choice(for index: Int) -> Choice {
        let bits = SplitMix64.mix(seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
        if SplitMix64.unit(bits) < hitRatio {
            return .repeated(hot: Int(SplitMix64.mix(bits) % UInt64(hot.count)))
        }
        return .unique(base: index % images.count)
    }

    public func jpeg(for index: Int) -> (bytes: [UInt8], repeated: Bool) {
        switch choice(for: index) {
        case let .repeated(k): (hot[k], true)
        case let .unique(base): (JPEGComment.inserting("glimpse-load run \(runTag) request \(index)", into: images.jpegs[base]), false)
        }
    }
}
