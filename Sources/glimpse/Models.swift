// `glimpse models`: what is in the models folder.
import ArgumentParser
import Foundation
import GlimpseEngine

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the models with their input (HxW, and NHWC where the model takes that layout), parameter count and arena.",
        discussion: "A model without glimpse.* metadata is listed with a warning on standard error naming the defaults it gets.")

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var folder: ModelFolderOptions

    struct Entry: Encodable {
        var name: String
        /// The side of a square input; nil for a non-square one (see inputHeight, inputWidth).
        var inputSize: Int?
        var inputHeight: Int?
        var inputWidth: Int?
        /// "NCHW" or "NHWC".
        var layout: String?
        var parameters: Int?
        var version: String?
        var classes: Int?
        /// Working memory of one session (one per worker), in bytes.
        var arenaBytes: Int?
        var error: String?
        /// "224x224", "224x224 NHWC": the table's INPUT column.
        var input: String?
    }

    func run() throws {
        bootstrapLogging()
        let repository = folder.repository
        let entries = repository.names().map { name -> Entry in
            do {
                let model = try repository.load(name)
                let info = try ClassifierInfo(model: model)
                return Entry(name: name, inputSize: info.inputHeight == info.inputWidth ? info.inputHeight : nil,
                             inputHeight: info.inputHeight, inputWidth: info.inputWidth, layout: info.layout.rawValue,
                             parameters: model.parameterCount, version: info.version, classes: info.labels.count,
                             arenaBytes: model.arenaBytes, input: info.inputDescription)
            } catch {
                return Entry(name: name, error: "\(error)")
            }
        }
        if json { return try printJSON(entries) }
        if entries.isEmpty {
            printError("no models in \(repository.directory.path): run scripts/setup")
            throw ExitCode(1)
        }
        for line in Self.table(entries) { print(line) }
    }

    /// The table, a line per model: each column as wide as its longest cell, so whole names and inputs fit.
    static func table(_ entries: [Entry]) -> [String] {
        let nameWidth = max("MODEL".count, entries.map(\.name.count).max() ?? 0)
        let inputWidth = max("INPUT".count, entries.compactMap(\.input?.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        var lines = ["\(pad("MODEL", nameWidth))  \(pad("INPUT", inputWidth))  \("PARAMS".leftPad(7))  \("ARENA".leftPad(6))  VERSION"]
        for e in entries {
            if let error = e.error {
                lines.append("\(pad(e.name, nameWidth))  error: \(error)")
            } else {
                let params = String(format: "%.2fM", Double(e.parameters ?? 0) / 1e6)
                let arena = String(format: "%.1fMB", Double(e.arenaBytes ?? 0) / 1e6)
                lines.append("\(pad(e.name, nameWidth))  \(pad(e.input ?? "", inputWidth))  \(params.leftPad(7))  \(arena.leftPad(6))  \(e.version ?? "")")
            }
        }
        return lines
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
