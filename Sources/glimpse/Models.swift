// `glimpse models`: what is in the models folder.
import ArgumentParser
import GlimpseEngine

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the models with their input size and parameter count.")

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var folder: ModelFolderOptions

    struct Entry: Encodable {
        var name: String
        var inputSize: Int?
        var parameters: Int?
        var version: String?
        var classes: Int?
        /// Working memory of one session (one per worker), in bytes.
        var arenaBytes: Int?
        var error: String?
    }

    func run() throws {
        let repository = folder.repository
        let entries = repository.names().map { name -> Entry in
            do {
                let model = try repository.load(name)
                let info = try ClassifierInfo(model: model)
                return Entry(name: name, inputSize: info.inputSize, parameters: model.parameterCount,
                             version: info.version, classes: info.labels.count, arenaBytes: model.arenaBytes)
            } catch {
                return Entry(name: name, error: "\(error)")
            }
        }
        if json { return try printJSON(entries) }
        if entries.isEmpty {
            printError("no models in \(repository.directory.path): run scripts/setup")
            throw ExitCode(1)
        }
        print("MODEL   INPUT      PARAMS   ARENA  VERSION")
        for e in entries {
            if let error = e.error {
                print("\(e.name.padding(toLength: 7, withPad: " ", startingAt: 0)) error: \(error)")
            } else {
                let params = String(format: "%.2fM", Double(e.parameters ?? 0) / 1e6)
                let arena = String(format: "%.1fMB", Double(e.arenaBytes ?? 0) / 1e6)
                print("\(e.name.padding(toLength: 7, withPad: " ", startingAt: 0)) \(e.inputSize!)x\(e.inputSize!)  \(params.leftPad(9))  \(arena.leftPad(6))  \(e.version!)")
            }
        }
    }
}

extension String {
    func leftPad(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
