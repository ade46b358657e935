// What a classifier says about its input: layout and size from the graph, the rest from metadata or stated defaults.
import Foundation
import GlimpseCore
import GlimpseEngine
import GlimpseTestSupport
import Logging
import Testing

/// A swift-log handler that keeps every record, for tests that count warnings.
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    struct Record { var level: Logger.Level; var message: String }
    private let lock = NSLock()
    private var stored: [Record] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var records: [Record] { lock.withLock { stored } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { stored.append(Record(level: event.level, message: "\(event.message)")) }
    }

    var logger: Logger { Logger(label: "test") { _ in self } }
}

private let fullMetadata = [
    "glimpse.name": "tiny", "glimpse.version": "1-test", "glimpse.resize_ratio": "0.875",
    "glimpse.mean": "127,127,127", "glimpse.std": "128,128,128", "glimpse.labels": "red\ngreen\nblue",
]

@Suite struct ClassifierInfoTests {
    @Test func nhwcInputIsReadAsNHWCWithItsHeightAndWidth() throws {
        let info = try ClassifierInfo(model: TinyClassifier.model(height: 224, width: 224, layout: .nhwc, metadata: fullMetadata))
        #expect(info.layout == .nhwc && info.inputHeight == 224 && info.inputWidth == 224)
        #expect(info.inputDescription == "224x224 NHWC")
    }

    @Test func nonSquareInputKeepsHeightAndWidthApart() throws {
        let nchw = try ClassifierInfo(model: TinyClassifier.model(height: 240, width: 320, layout: .nchw, metadata: fullMetadata))
        #expect(nchw.layout == .nchw && nchw.inputHeight == 240 && nchw.inputWidth == 320 && nchw.inputDescription == "240x320")
        let nhwc = try ClassifierInfo(model: TinyClassifier.model(height: 320, width: 200, layout: .nhwc, metadata: fullMetadata))
        #expect(nhwc.inputHeight == 320 && nhwc.inputWidth == 200 && nhwc.inputDescription == "320x200 NHWC")
    }

    @Test(arguments: ["240x320", "240X320", "240×320", " 240 x 320 "])
    func inputSizeMetadataMayBeHeightByWidth(_ declared: String) throws {
        let model = try TinyClassifier.model(height: 240, width: 320, layout: .nchw, metadata: ["glimpse.input_size": declared])
        #expect(try ClassifierInfo(model: model, logger: RecordingLogHandler().logger).inputWidth == 320)
    }

    @Test func inputSizeMetadataAsOneSideMeansSquare() throws {
        let model = try TinyClassifier.model(height: 224, width: 224, layout: .nhwc, metadata: ["glimpse.input_size": "224"])
        #expect(try ClassifierInfo(model: model, logger: RecordingLogHandler().logger).inputHeight == 224)
    }

    @Test(arguments: ["320x240", "240", "240x", "big"])
    func inputSizeMetadataThatDisagreesWithTheGraphIsInvalid(_ declared: String) throws {
        let model = try TinyClassifier.model(height: 240, width: 320, layout: .nchw, metadata: ["glimpse.input_size": declared])
        let error = #expect(throws: EngineError.self) { try ClassifierInfo(model: model) }
        #expect(error?.description.contains("glimpse.input_size") == true || error?.description.contains("input size \(declared)") == true)
    }

    @Test func layoutMetadataDecidesAnAmbiguousInput() throws {
        // [1, 3, 8, 3]: three channels first (an 8×3 image) or last (a 3×8 image).
        let declared = try ClassifierInfo(model: TinyClassifier.model(height: 3, width: 8, layout: .nhwc, metadata: fullMetadata.merging(["glimpse.layout": "nhwc"]) { $1 }))
        #expect(declared.layout == .nhwc && declared.inputHeight == 3 && declared.inputWidth == 8 && declared.defaults.isEmpty)
        let log = RecordingLogHandler()
        let undeclared = try ClassifierInfo(model: TinyClassifier.model(height: 3, width: 8, layout: .nhwc, metadata: fullMetadata), logger: log.logger)
        #expect(undeclared.layout == .nchw && undeclared.inputHeight == 8 && undeclared.inputWidth == 3)
        #expect(undeclared.defaults.map(\.key) == ["glimpse.layout"])
        #expect(log.records.count == 1 && log.records[0].message.contains("layout NCHW"))
    }

    @Test func layoutMetadataMustAgreeWithTheGraph() throws {
        let model = try TinyClassifier.model(height: 224, width: 224, layout: .nchw, metadata: ["glimpse.layout": "NHWC"])
        #expect(throws: EngineError.invalidModel("'tiny': glimpse.layout says NHWC, the graph's input [1, 3, 224, 224] is NCHW")) {
            try ClassifierInfo(model: model)
        }
        let garbage = try TinyClassifier.model(height: 224, width: 224, layout: .nchw, metadata: ["glimpse.layout": "CHW"])
        #expect(throws: EngineError.self) { try ClassifierInfo(model: garbage) }
    }

    @Test func oneChannelInputIsNotAnRGBClassifier() throws {
        let model = try TinyClassifier.model(height: 28, width: 28, layout: .nchw, channels: 1)
        let error = #expect(throws: EngineError.self) { try ClassifierInfo(model: model) }
        #expect(error?.description.contains("1-channel") == true && error?.status == .failedPrecondition)
    }

    @Test func badResizeRatioOrStdIsInvalidNotACrashLater() throws {
        for metadata in [["glimpse.resize_ratio": "1.5"], ["glimpse.resize_ratio": "x"], ["glimpse.std": "58,0,57"], ["glimpse.mean": "1,2"]] {
            let model = try TinyClassifier.model(height: 32, width: 32, layout: .nchw, metadata: metadata)
            #expect(throws: EngineError.self, "\(metadata)") { try ClassifierInfo(model: model) }
        }
    }

    @Test func modelWithoutMetadataWarnsOnceAndUsesImageNetDefaults() throws {
        let log = RecordingLogHandler()
        let model = try TinyClassifier.model(height: 224, width: 224, layout: .nhwc, name: "keras_export")
        let info = try ClassifierInfo(model: model, logger: log.logger)
        #expect(info.mean == [123.675, 116.28, 103.53] && info.std == [58.395, 57.12, 57.375])
        #expect(info.mean == ClassifierInfo.defaultMean && info.std == ClassifierInfo.defaultStd)
        #expect(info.resizeRatio == 0.875 && info.labels.isEmpty)
        #expect(info.name == "keras_export" && info.version == "unversioned")
        #expect(info.defaults.map(\.key) == ["glimpse.resize_ratio", "glimpse.mean", "glimpse.std", "glimpse.labels"])

        #expect(log.records.count == 1)
        let warning = try #require(log.records.first)
        #expect(warning.level == .warning)
        for named in ["'keras_export'", "no glimpse.* metadata", "ImageNet mean 123.675,116.28,103.53", "std 58.395,57.12,57.375",
                      "resize ratio 0.875", "class index only"] {
            #expect(warning.message.contains(named), "the warning should say \(named): \(warning.message)")
        }
    }

    @Test func modelWithPartialMetadataNamesOnlyWhatIsMissing() throws {
        let log = RecordingLogHandler()
        var metadata = fullMetadata
        metadata["glimpse.labels"] = nil
        let info = try ClassifierInfo(model: TinyClassifier.model(height: 64, width: 48, layout: .nchw, metadata: metadata), logger: log.logger)
        #expect(info.mean == [127, 127, 127] && info.labels.isEmpty)
        #expect(log.records.map(\.message).count == 1)
        #expect(log.records.first?.message.contains("lacks glimpse.labels") == true)
        #expect(log.records.first?.message.contains("mean") == false)
    }

    @Test func modelWithFullMetadataLoadsWithoutAWarning() throws {
        let log = RecordingLogHandler()
        let info = try ClassifierInfo(model: TinyClassifier.model(height: 224, width: 224, layout: .nchw, metadata: fullMetadata), logger: log.logger)
        #expect(info.labels == ["red", "green", "blue"] && info.defaults.isEmpty)
        #expect(log.records.isEmpty)
    }

    @Test func predictionsOfAModelWithoutLabelsCarryTheIndexOnly() {
        let predictions = topPredictions([0.1, 2.0, 0.5], k: 2, labels: [])
        #expect(predictions.map(\.index) == [1, 2] && predictions.allSatisfy { $0.label.isEmpty })
    }
}
