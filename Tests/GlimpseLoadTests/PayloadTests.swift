// Unique requests are byte-distinct but decode the same; repeats come from the hot set in the asked-for share.
import Foundation
import GlimpseTestSupport
import GlimpseImage
@_spi(Testing) import GlimpseLoad
import Testing

let testRoot = TestData.root
let testImages = TestData.images.path

@Suite struct PayloadTests {
    static let synthetic = try! ImageSet.synthetic(count: 3, width: 320, height: 240, seed: 11)

    @Test(arguments: [0.0, 0.1, 0.5, 0.9, 1.0])
    func repeatsMakeUpTheRequestedShare(hitRatio: Double) {
        // 20 000 requests: the repeat count is Binomial(n, h), σ ≤ 0.0035 of n; 0.02 is over 5σ.
        let mix = PayloadMix(images: Self.synthetic, hitRatio: hitRatio, seed: 99, runTag: "t")
        let n = 20_000
        let choices = (0..<n).map { mix.choice(for: $0) }
        let repeats = choices.filter { if case .repeated = $0 { true } else { false } }.count
        #expect(abs(Double(repeats) / Double(n) - hitRatio) < 0.02, "\(repeats) repeats of \(n) at h = \(hitRatio)")
        if hitRatio == 0 { #expect(repeats == 0) }
        if hitRatio == 1 { #expect(repeats == n) }
        // Repeats spread over the whole hot set, and misses over the whole image set.
        if hitRatio >= 0.5 {
            let hot = Set(choices.compactMap { if case let .repeated(k) = $0 { k } else { nil } })
            #expect(hot == Set(0..<mix.hot.count))
        }
        if hitRatio <= 0.5 {
            let bases = Set(choices.compactMap { if case let .unique(b) = $0 { b } else { nil } })
            #expect(bases == Set(0..<Self.synthetic.count))
        }
    }

    @Test func uniqueRequestsAreAllDistinctAndRepeatsAreHotImagesOnly() {
        let mix = PayloadMix(images: Self.synthetic, hitRatio: 0.3, seed: 5, runTag: "run")
        var uniques = Set<[UInt8]>(), repeats = 0
        let hot = Set(mix.hot)
        for index in 0..<600 {
            let (bytes, repeated) = mix.jpeg(for: index)
            if repeated {
                repeats += 1
                #expect(hot.contains(bytes))
            } else {
                #expect(!hot.contains(bytes), "a miss must not carry a hot image")
                #expect(uniques.insert(bytes).inserted, "request \(index) repeats an earlier unique payload")
            }
        }
        #expect(uniques.count + repeats == 600 && repeats > 0)
    }

    @Test func theMixDependsOnTheSeedOnly() {
        let a = PayloadMix(images: Self.synthetic, hitRatio: 0.5, seed: 1, runTag: "x")
        let b = PayloadMix(images: Self.synthetic, hitRatio: 0.5, seed: 1, runTag: "y")
        let c = PayloadMix(images: Self.synthetic, hitRatio: 0.5, seed: 2, runTag: "x")
        let choices = { (m: PayloadMix) in (0..<500).map { m.choice(for: $0) } }
        #expect(choices(a) == choices(b))
        #expect(choices(a) != choices(c))
        #expect(a.jpeg(for: 0).bytes != b.jpeg(for: 0).bytes, "run tags keep two runs' images apart")
    }

    @Test(arguments: ["cat.jpg", "cat_progressive.jpg", "cat_cmyk.jpg", "synthetic"])
    func aCommentSegmentChangesTheBytesButNotThePixels(name: String) throws {
        let jpeg = name == "synthetic" ? Self.synthetic.jpegs[0]
            : [UInt8](try Data(contentsOf: URL(fileURLWithPath: testImages).appendingPathComponent(name)))
        let tagged = JPEGComment.inserting("glimpse-load run abc request 12345", into: jpeg)
        #expect(tagged != jpeg)
        #expect(Array(tagged.prefix(4)) == [0xFF, 0xD8, 0xFF, 0xFE])
        let length = Int(tagged[4]) << 8 | Int(tagged[5])
        #expect(String(decoding: tagged[6..<(4 + length)], as: UTF8.self) == "glimpse-load run abc request 12345")
        #expect(Array(tagged[(4 + length)...]) == Array(jpeg[2...]))
        let pipeline = ImagePipeline(Preprocessing(size: 224, resizeRatio: 0.875, mean: [127, 127, 127], std: [128, 128, 128]))
        #expect(try pipeline.preprocess(jpeg: tagged) == pipeline.preprocess(jpeg: jpeg))
    }

    @Test func syntheticImagesAreDistinctJPEGsOfTheAskedSize() throws {
        let set = try ImageSet.synthetic(count: 4, width: 320, height: 240, seed: 3)
        #expect(Set(set.jpegs).count == 4)
        for jpeg in set.jpegs {
            let info = try jpeg.withUnsafeBytes { try readJPEGInfo($0) }
            #expect(info.width == 320 && info.height == 240)
        }
        #expect(try ImageSet.synthetic(count: 4, width: 320, height: 240, seed: 3).jpegs == set.jpegs, "same seed, same images")
    }

    @Test func anImageFolderLoadsItsJPEGsInNameOrder() throws {
        let set = try ImageSet.load(directory: testImages)
        #expect(set.names == set.names.sorted() && set.names.contains("cat.jpg") && !set.names.contains("manifest.json"))
        #expect(throws: LoadError.self) { try ImageSet.load(directory: testRoot.appendingPathComponent("Sources/GlimpseLoad").path) }
    }
}
