// The pipeline writes the model's layout and size itself: NHWC is NCHW interleaved, non-square inputs get H×W.
import GlimpseCore
import Testing
@_spi(Testing) import GlimpseImage

@Suite(.enabled(if: TestData.haveImages, TestData.missingImages))
struct LayoutTests {
    static let photos = TestData.manifest().filter { min($0.width, $0.height) >= ImagePipeline.minimumSide }

    @Test(arguments: [(224, 224), (240, 320), (320, 240), (37, 53)])
    func nhwcOutputIsTheNCHWOutputInterleaved(height: Int, width: Int) throws {
        let planes = ImagePipeline(Preprocessing(height: height, width: width, layout: .nchw))
        let pixels = ImagePipeline(Preprocessing(height: height, width: width, layout: .nhwc))
        #expect(pixels.preprocessing.outputShape == [1, height, width, 3] && planes.preprocessing.outputShape == [1, 3, height, width])
        for photo in Self.photos {
            let jpeg = try TestData.jpeg(photo.file)
            let nchw = try planes.preprocess(jpeg: jpeg), nhwc = try pixels.preprocess(jpeg: jpeg)
            try #require(nchw.count == 3 * height * width && nhwc.count == nchw.count)
            var transposed = [Float](repeating: 0, count: nchw.count)
            for c in 0..<3 {
                for i in 0..<(height * width) { transposed[3 * i + c] = nchw[c * height * width + i] }
            }
            #expect(nhwc == transposed, "\(photo.file) at \(height)x\(width)")
        }
    }

    @Test func decodedImageCoversANonSquareTargetOnBothAxes() throws {
        // Whatever DCT scale is chosen, the decoded image has at least the rows and columns the resize
        // target needs (up to libjpeg's rounding of a partial block on the axis that decides the scale).
        for p in [Preprocessing(height: 240, width: 320), Preprocessing(height: 320, width: 240), Preprocessing(height: 100, width: 400)] {
            let pipeline = ImagePipeline(p)
            for photo in Self.photos {
                let (image, _) = try pipeline.decodedPixels(TestData.jpeg(photo.file))
                guard image.scale != .full else { continue }
                let g = ResizeGeometry(width: photo.width, height: photo.height, preprocessing: p)
                #expect(image.width >= g.resizedWidth - 1 && image.height >= g.resizedHeight - 1,
                        "\(photo.file) at \(image.scale): decoded \(image.width)x\(image.height) for \(g.resizedWidth)x\(g.resizedHeight)")
            }
        }
    }
}
