// Geometry, DCT scale choice and resampling, and the whole pipeline against the Pillow reference tensors.
import Foundation
import Testing
@_spi(Testing) import GlimpseImage

struct DCTScaleTests {
    @Test(arguments: [
        // (width, height, resized short side, expected)
        (500, 375, 256, DCTScale.full),  // 1/2 would give 188
        (451, 300, 256, .full),
        (300, 300, 256, .full),  // 7/8 would give 263, but 7/8 and 3/4 decode slower than 1/1
        (512, 512, 256, .half),  // exactly 256 is enough
        (510, 510, 256, .full),  // 255 is not
        (1023, 1023, 256, .quarter),  // libjpeg rounds a partial block up: ⌈1023/4⌉ = 256
        (1000, 872, 256, .half),
        (1411, 1411, 256, .quarter),
        (2400, 1596, 256, .quarter),  // 1/8 would give 200
        (4000, 3000, 256, .eighth),
        (300, 4000, 256, .full),  // the short side decides
        (2048, 2048, 274, .quarter),  // 1/8 gives 256 < 274 (lite1's 240/0.875)
    ])
    func smallestScaleThatKeepsTheShortSide(width: Int, height: Int, short: Int, expected: DCTScale) {
        #expect(DCTScale.choose(width: width, height: height, shortSide: short) == expected)
    }

    @Test func nonSquareInputDecodesForTheAxisThatNeedsTheMostPixels() {
        // A 1411² photo into a 240×320 (H×W) input is scaled by its width, to round(320/0.875) = 366:
        // 1/4 would decode 353 columns and upscale them. Its short side alone (against 274) would allow 1/4.
        let landscape = Preprocessing(height: 240, width: 320)
        #expect(DCTScale.choose(width: 1411, height: 1411, for: landscape) == .half)
        #expect(DCTScale.choose(width: 1411, height: 1411, shortSide: landscape.resizedShortSide) == .quarter)
        // A wide photo into the same input is scaled by its height, as with a square input.
        #expect(DCTScale.choose(width: 4000, height: 2200, for: landscape) == .eighth)  // 275 rows ≥ 274
        // Portrait input, landscape photo: the height needs 366 rows.
        let portrait = Preprocessing(height: 320, width: 240)
        #expect(DCTScale.choose(width: 2400, height: 1596, for: portrait) == .quarter)  // 1/8: 200 rows
        #expect(DCTScale.choose(width: 2928, height: 2928, for: portrait) == .eighth)  // 366 rows
    }

    @Test(arguments: [224, 240, 260])
    func squareInputChoosesAsTheShortSideRuleAlwaysDid(size: Int) {
        let p = Preprocessing(size: size)
        for (w, h) in [(500, 375), (512, 512), (1023, 1023), (2400, 1596), (300, 4000), (4000, 3000), (1000, 872), (513, 2048)] {
            #expect(DCTScale.choose(width: w, height: h, for: p) == DCTScale.choose(width: w, height: h, shortSide: p.resizedShortSide))
        }
    }

    @Test func scaledSidesRoundUpLikeLibjpeg() {
        #expect(DCTScale.eighth.scaled(2401) == 301)
        #expect(DCTScale.quarter.scaled(1596) == 399)
        #expect(DCTScale.full.scaled(451) == 451)
    }
}

struct ResizeGeometryTests {
    @Test func landscapeShortSideBecomesTargetAndCropIsCentred() {
        let g = ResizeGeometry(width: 451, height: 300, preprocessing: Preprocessing(size: 224))
        #expect(g == ResizeGeometry(resizedWidth: 385, resizedHeight: 256, cropLeft: 80, cropTop: 16))
    }

    @Test func portraitIsTheTranspose() {
        let g = ResizeGeometry(width: 300, height: 451, preprocessing: Preprocessing(size: 224))
        #expect(g == ResizeGeometry(resizedWidth: 256, resizedHeight: 385, cropLeft: 16, cropTop: 80))
    }

    @Test func oddSurplusGoesRightAndDown() {
        // 240/0.875 = 274.3 → 274; 451·274/300 = 411.9 → 412; (412-240)/2 = 86, (274-240)/2 = 17.
        let g = ResizeGeometry(width: 451, height: 300, preprocessing: Preprocessing(size: 240))
        #expect(g == ResizeGeometry(resizedWidth: 412, resizedHeight: 274, cropLeft: 86, cropTop: 17))
    }

    @Test func nonSquareInputIsCoveredKeepingTheAspectRatio() {
        // 240×320 (H×W) input: the image must cover 274 rows × 366 columns. A 1000×872 photo needs
        // 366/1000 horizontally and 274/872 vertically: the width decides, 872·0.366 = 319.2 → 319 rows.
        let g = ResizeGeometry(width: 1000, height: 872, preprocessing: Preprocessing(height: 240, width: 320))
        #expect(g == ResizeGeometry(resizedWidth: 366, resizedHeight: 319, cropLeft: 23, cropTop: 39))
        // A wider photo is decided by its height, as with a square input: 741·274/500 = 406.1 → 406.
        let wide = ResizeGeometry(width: 741, height: 500, preprocessing: Preprocessing(height: 240, width: 320))
        #expect(wide == ResizeGeometry(resizedWidth: 406, resizedHeight: 274, cropLeft: 43, cropTop: 17))
    }

    @Test func landscapePhotoIntoPortraitInputIsScaledByItsLongSide() {
        // 320×240 (H×W): 366 rows × 274 columns to cover; a 451×300 photo needs 366/300 vertically
        // (more than 274/451), so its height becomes 366 and its width 451·1.22 = 550.2 → 550. A short-side
        // rule (300 → 274) would leave 274 rows for a 320-row crop.
        let g = ResizeGeometry(width: 451, height: 300, preprocessing: Preprocessing(height: 320, width: 240))
        #expect(g == ResizeGeometry(resizedWidth: 550, resizedHeight: 366, cropLeft: 155, cropTop: 23))
    }

    @Test func roundingTiesGoToEvenLikePython() {
        // The reference is Python, whose round(12.5) is 12 and round(256.5) is 256.
        #expect(Preprocessing(size: 10, resizeRatio: 0.8).resizedShortSide == 12)
        let g = ResizeGeometry(width: 513, height: 512, preprocessing: Preprocessing(size: 224))
        #expect(g.resizedWidth == 256)
    }
}

struct BilinearTapsTests {
    @Test func sameSizeIsTheIdentity() {
        var taps = BilinearTaps()
        taps.compute(inputSize: 50, inputExtent: 50, outputSize: 50, first: 0, count: 50)
        for i in 0..<50 {
            #expect(taps.starts[i] == Int32(i))
            #expect(taps.weights[i * taps.maxTaps] == 1 << weightFractionBits)
        }
    }

    @Test(arguments: [(600, 385), (399, 256), (100, 256), (1000, 224), (257, 256), (8, 256)])
    func weightsSumToOne(input: Int, output: Int) {
        var taps = BilinearTaps()
        taps.compute(inputSize: input, inputExtent: Float(input), outputSize: output, first: 0, count: output)
        for i in 0..<output {
            let sum = (0..<taps.maxTaps).reduce(Int32(0)) { $0 + taps.weights[i * taps.maxTaps + $1] }
            // Each weight is rounded separately: off by at most half a unit per tap.
            #expect(abs(Int(sum) - (1 << Int(weightFractionBits))) <= taps.maxTaps)
        }
    }

    @Test(arguments: [
        // (input size, exact extent, output size, first, count): downscale, upscale, reduced-decode extents,
        // crops at either edge, so windows get moved at the right edge.
        (600, Float(600), 385, 0, 385), (600, 599.5, 385, 161, 224), (100, 100, 256, 0, 256),
        (301, 300.125, 224, 0, 224), (40, 40, 39, 0, 39), (8, 8, 256, 16, 224),
    ])
    func uniformWindowsGiveExactlyTheSameRows(input: Int, extent: Float, output: Int, first: Int, count: Int) {
        var exact = BilinearTaps(), uniform = BilinearTaps()
        exact.compute(inputSize: input, inputExtent: extent, outputSize: output, first: first, count: count)
        uniform.compute(inputSize: input, inputExtent: extent, outputSize: output, first: first, count: count, uniform: true)
        #expect(uniform.uniformLength != nil)
        var generator = SplitMix64(seed: 7)
        let rows = 3
        let source = (0..<rows * input * 3).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var a = [UInt8](repeating: 0, count: rows * count * 3), b = a
        source.withUnsafeBufferPointer { s in
            a.withUnsafeMutableBufferPointer { resampleRows(source: s.baseAddress!, sourceRowBytes: input * 3, rows: 0..<rows, columns: exact, destination: $0.baseAddress!) }
            b.withUnsafeMutableBufferPointer { resampleRows(source: s.baseAddress!, sourceRowBytes: input * 3, rows: 0..<rows, columns: uniform, destination: $0.baseAddress!) }
        }
        #expect(a == b)
    }
}

/// Tests run against the Pillow reference tensors scripts/make_goldens.py writes (reference_preprocess.py).
@Suite(.enabled(if: !TestData.goldenTensors().isEmpty, "models/goldens/*/index.json or the test images are missing: run scripts/make_test_images.py and scripts/make_goldens.py"))
struct PillowReferenceTests {
    /// Tolerances, in pixel levels (1 level = 1/std = 1/128 after normalization):
    /// - decoded at full size: our resampler reproduces Pillow's fixed-point arithmetic and libjpeg-turbo's
    ///   accurate IDCT is bit-exact across versions and SIMD paths, so the tensors are identical today;
    ///   one level of slack keeps a future libjpeg rounding change from failing everything.
    /// - decoded at 1/2, 1/4, 1/8: libjpeg's reduced IDCT filters differently from Pillow's full decode +
    ///   triangle filter. Measured means are 0.35–0.7 levels, except 2.2 when the reduced decode lands
    ///   exactly on the target size and no resampling smooths it (astronaut, 512 → 256 for lite0).
    ///   Edges differ by up to ~50 levels, so only the mean is bounded.
    static let fullScaleMaxLevels: Float = 1
    static let reducedScaleMeanLevels = 3.0

    @Test(arguments: TestData.goldenTensors())
    func matchesPillowReference(_ golden: TestData.Golden) throws {
        // All Lite models' metadata say mean 127, std 128 (glimpse.mean / glimpse.std), the defaults.
        let pipeline = ImagePipeline(Preprocessing(size: golden.size))
        let jpeg = try TestData.jpeg(golden.image)
        let ours = try pipeline.preprocess(jpeg: jpeg)
        let reference = try Data(contentsOf: golden.tensor).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        try #require(reference.count == ours.count)

        let scale = try pipeline.decodedPixels(jpeg).image.scale
        let (mean, max) = differences(ours, reference)
        let level: Float = 1 / 128
        print("\(golden.testDescription) decoded at \(scale): mean |diff| \(mean) (\(mean / Double(level)) levels), max |diff| \(max) (\(max / level) levels)")
        if scale == .full {
            #expect(max <= Self.fullScaleMaxLevels * level + 1e-6)
        } else {
            #expect(mean <= Self.reducedScaleMeanLevels * Double(level))
        }
    }
}

/// A small seeded generator so random test data is the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
