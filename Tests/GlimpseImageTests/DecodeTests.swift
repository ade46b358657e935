// Decoding: every colour model and coding mode comes out as RGB of the right size with plausible pixels.
import Testing
@_spi(Testing) import GlimpseImage

@Suite(.enabled(if: TestData.haveImages, TestData.missingImages))
struct DecodeTests {
    let pipeline = ImagePipeline(Preprocessing(size: 224))

    @Test(arguments: TestData.manifest().filter { min($0.width, $0.height) >= ImagePipeline.minimumSide })
    func headerAndDecodeAgreeWithTheManifest(_ entry: TestData.ManifestEntry) throws {
        let jpeg = try TestData.jpeg(entry.file)
        let info = try jpeg.withUnsafeBytes { try readJPEGInfo($0) }
        #expect(info.width == entry.width && info.height == entry.height)
        let expected: Set<JPEGColorspace> = switch entry.color_space {
        case "gray": [.gray]
        case "cmyk": [.cmyk, .ycck]
        default: [.yCbCr, .rgb]
        }
        #expect(expected.contains(info.colorspace))

        let (image, rgb) = try pipeline.decodedPixels(jpeg)
        #expect(image.width == image.scale.scaled(entry.width) && image.height == image.scale.scaled(entry.height))
        if image.scale != .full {
            #expect(min(image.width, image.height) >= Preprocessing(size: 224).resizedShortSide)
        }
        // Plausible photo: no channel is black, white or flat (Hubble's deep field averages about 19).
        for channel in 0..<3 {
            let values: [Double] = stride(from: channel, to: rgb.count, by: 3).map { Double(rgb[$0]) }
            let mean: Double = values.reduce(0, +) / Double(values.count)
            let variance: Double = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
            let spread = variance.squareRoot()
            #expect((5...250).contains(mean), "channel \(channel) mean \(mean)")
            #expect(spread > 10, "channel \(channel) standard deviation \(spread)")
        }
    }

    @Test func catIsWarmColoured() throws {
        // Chelsea the cat is ginger: red well above blue. Catches swapped channel order.
        let (_, rgb) = try pipeline.decodedPixels(TestData.jpeg("cat.jpg"))
        var red = 0, blue = 0
        for i in stride(from: 0, to: rgb.count, by: 3) {
            red += Int(rgb[i])
            blue += Int(rgb[i + 2])
        }
        #expect(red > blue * 3 / 2)
    }

    @Test func grayscaleComesOutAsEqualRGB() throws {
        let (_, rgb) = try pipeline.decodedPixels(TestData.jpeg("cat_gray.jpg"))
        var unequal = 0
        for i in stride(from: 0, to: rgb.count, by: 3) where rgb[i] != rgb[i + 1] || rgb[i] != rgb[i + 2] {
            unequal += 1
        }
        #expect(unequal == 0)
    }

    @Test func cmykLooksLikeItsRGBOriginal() throws {
        // Same picture encoded twice (CMYK 4:4:4 vs YCbCr 4:2:0), so not identical; 4 levels on average
        // is far below what a wrong polarity or channel order gives (tens of levels).
        let cmyk = try pipeline.preprocess(jpeg: TestData.jpeg("cat_cmyk.jpg"))
        let rgb = try pipeline.preprocess(jpeg: TestData.jpeg("cat.jpg"))
        #expect(differences(cmyk, rgb).mean < 4.0 / 128)
    }

    @Test func progressiveMatchesBaseline() throws {
        // Same quality, same quantized coefficients, only their order in the file differs.
        let progressive = try pipeline.preprocess(jpeg: TestData.jpeg("cat_progressive.jpg"))
        let baseline = try pipeline.preprocess(jpeg: TestData.jpeg("cat.jpg"))
        #expect(differences(progressive, baseline).mean < 1.0 / 128)
    }

    @Test func largeImageDecodesAtQuarterScale() throws {
        // ~2400×1600 for a 256-pixel short side: 1/4 leaves ~400, 1/8 only ~200.
        let (image, _) = try pipeline.decodedPixels(TestData.jpeg("cat_large.jpg"))
        #expect(image.scale == .quarter)
        #expect(image.width == (image.originalWidth + 3) / 4)
    }

    @Test func headerCanBeReadFromTheFirstPartOfAFile() throws {
        // readJPEGInfo needs the header only: half a file is enough.
        let jpeg = try TestData.jpeg("cat.jpg")
        let info = try Array(jpeg.prefix(jpeg.count / 2)).withUnsafeBytes { try readJPEGInfo($0) }
        #expect(info == JPEGInfo(width: 451, height: 300, colorspace: .yCbCr))
    }

    @Test func scratchMemoryIsReusedNotRegrown() throws {
        let large = try TestData.jpeg("cat_large.jpg"), small = try TestData.jpeg("cat.jpg")
        _ = try pipeline.preprocess(jpeg: large)
        let grown = pipeline.scratchByteCount
        for _ in 0..<3 {
            _ = try pipeline.preprocess(jpeg: small)
            _ = try pipeline.preprocess(jpeg: large)
        }
        #expect(pipeline.scratchByteCount == grown)
    }

    @Test func repeatedRunsGiveIdenticalTensors() throws {
        // Scratch buffers are reused between calls; nothing from the previous image may leak into the next.
        let cat = try TestData.jpeg("cat.jpg")
        let first = try pipeline.preprocess(jpeg: cat)
        _ = try pipeline.preprocess(jpeg: TestData.jpeg("cat_large.jpg"))
        #expect(try pipeline.preprocess(jpeg: cat) == first)
        #expect(try ImagePipeline(Preprocessing(size: 224)).preprocess(jpeg: cat) == first)
    }
}
