// The glimpse command: a thin layer of subcommands over the Glimpse libraries.
import ArgumentParser

@main
struct Glimpse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Glimpse: a small, fast image-recognition engine and server.",
        subcommands: [Classify.self, Models.self, Serve.self, Bench.self, Load.self])
}
