// `glimpse bench model`: whole-model latency and where the time goes.
import ArgumentParser
import Foundation
import GlimpseCore
import GlimpseEngine

struct BenchModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Latency of one model (median, p90) and a per-layer profile by kernel or operator.",
        discussion: "Runs on a fixed random input after a warm-up; scripts/bench-vs-ort runs this beside ONNX Runtime.")

    @Option(help: "Model name.")
    var model = "lite0"

    @Option(help: "Timed runs.")
    var iterations = 100

    @Option(help: "Untimed runs first.")
    var warmup = 10

    @Flag(help: "Also list every step in order with its shape and median time.")
    var layers = false

    @Flag(name: .customLong("stdin"), help: "For scripts that interleave Glimpse with another engine run by run (scripts/bench-vs-ort): load, warm up, then for each line N read from standard input, run N times and print those runs' milliseconds as one JSON array line.")
    var driven = false

    @Flag(name: .customLong("ab-unfused"), help: "A/B in one run: alternate with the same model compiled with --no-fuse and print both medians.")
    var abUnfused = false

    @Flag(name: .customLong("ab-gate"), help: "A/B in one run: squeeze-excite gates taken into the next 1x1 conv's weights, against the image scaled in a pass of its own.")
    var abGate = false

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var folder: ModelFolderOptions

    @OptionGroup var engine: EngineOptions

    struct Report: Encodable {
        var model: String
        var kernels: String
        var threads: Int
        var iterations: Int
        var medianMs: Double
        var p90Ms: Double
        var minMs: Double
        /// Share of the time by step kind (kernel name for convolutions), largest first.
        var profile: [Share]
        /// Every step in order, with --layers.
        var layers: [Layer]?
    }

    struct Layer: Encodable {
        var kind: String
        var layer: String
        var medianMs: Double
    }

    struct Share: Encodable {
        var kind: String
        var steps: Int
        var ms: Double
        var percent: Double
    }

    /// A fixed pseudo-random input in [-1, 1] (the same for every session of a run).
    static func randomInput(_ count: Int) -> [Float] {
        var generator = SplitMix64(seed: 1)
        return (0..<count).map { _ in Float.random(in: -1...1, using: &generator) }
    }

    /// Milliseconds one run of `session` on `input` takes on `clock` (the monotonic clock, or
    /// CLOCK_THREAD_CPUTIME_ID to leave out time spent descheduled). The input is written before
    /// every run, untimed, as a server writes each request's image: the arena reuses its memory
    /// for later tensors, so without this every run after the first would see leftovers.
    static func timedRun(_ session: Session, input: [Float], clock: clockid_t = CLOCK_MONOTONIC) -> Double {
        func now() -> UInt64 {
            var t = timespec()
            clock_gettime(clock, &t)
            return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
        }
        _ = session.input().update(from: input)
        let start = now()
        session.run()
        return Double(now() - start) / 1e6
    }

    /// Two compilations of the model (fused and not) run by turns on the same input, so both see
    /// the same machine; timed in this thread's CPU time, so that time spent descheduled (a busy,
    /// shared machine) counts for neither.
    func compare(_ what: String, _ fuse: (inout LoadOptions, Bool) -> Void) throws {
        var options = engine.loadOptions
        fuse(&options, true)
        let fused = try folder.repository.load(model, options: options).makeSession(threads: engine.threads)
        fuse(&options, false)
        let apart = try folder.repository.load(model, options: options).makeSession(threads: engine.threads)
        let input = Self.randomInput(fused.input().count)
        var times: [[Double]] = [[], []]
        for round in 0..<(warmup + iterations) {
            for (index, session) in [fused, apart].enumerated() {
                let ms = Self.timedRun(session, input: input, clock: CLOCK_THREAD_CPUTIME_ID)
                if round >= warmup { times[index].append(ms) }
            }
        }
        let medians = times.map { $0.sorted()[$0.count / 2] }
        print(String(format: "%@, %@, %d thread(s), %d runs each, alternating, CPU time: fused %.3f ms, unfused %.3f ms, unfused/fused %.3fx",
                     model, what, engine.threads, iterations, medians[0], medians[1], medians[1] / medians[0]))
    }

    func run() throws {
        if abUnfused { return try compare("conv + depthwise") { $0.fuseExpandDepthwise = $1 } }
        if abGate { return try compare("squeeze-excite gate into the next conv") { $0.fuseGateIntoConv = $1 } }
        let loaded = try folder.repository.load(model, options: engine.loadOptions)
        let session = loaded.makeSession(threads: engine.threads)
        let input = Self.randomInput(session.input().count)
        for _ in 0..<warmup { _ = Self.timedRun(session, input: input) }
        if driven {
            // Unbuffered: the driver waits for each line.
            func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
            emit("ready")
            while let line = readLine(), let count = Int(line.trimmingCharacters(in: .whitespaces)), count > 0 {
                let times = (0..<count).map { _ in Self.timedRun(session, input: input) }
                emit("[" + times.map { String(format: "%.4f", $0) }.joined(separator: ",") + "]")
            }
            return
        }
        let times = (0..<iterations).map { _ in Self.timedRun(session, input: input) }.sorted()
        // The profile times each step separately: the sum is a little above a plain run.
        var nanoseconds: [String: UInt64] = [:], steps: [String: Int] = [:]
        var perStep: [[UInt64]] = [], descriptions: [(String, String)] = []
        let profileRuns = max(5, iterations / 5)
        for run in 0..<profileRuns {
            _ = session.input().update(from: input)
            for (index, step) in session.profile().enumerated() {
                nanoseconds[step.kind, default: 0] += step.nanoseconds
                if run == 0 {
                    steps[step.kind, default: 0] += 1
                    perStep.append([])
                    descriptions.append((step.kind, step.layer))
                }
                perStep[index].append(step.nanoseconds)
            }
        }
        let layerList = zip(descriptions, perStep).map { d, ns in
            Layer(kind: d.0, layer: d.1, medianMs: Double(ns.sorted()[ns.count / 2]) / 1e6)
        }
        let total = Double(nanoseconds.values.reduce(0, +))
        let shares = nanoseconds.map { kind, ns in
            Share(kind: kind, steps: steps[kind]!, ms: Double(ns) / 1e6 / Double(profileRuns), percent: 100 * Double(ns) / total)
        }.sorted { $0.ms > $1.ms }
        let report = Report(model: model, kernels: loaded.kernelVariant, threads: engine.threads, iterations: iterations,
                            medianMs: times[times.count / 2], p90Ms: times[times.count * 9 / 10], minMs: times[0], profile: shares,
                            layers: layers ? layerList : nil)
        if json { return try printJSON(report) }
        print(String(format: "%@ on %@ kernels, %d thread(s), %d runs: median %.2f ms, p90 %.2f ms, min %.2f ms",
                     model, report.kernels, engine.threads, iterations, report.medianMs, report.p90Ms, report.minMs))
        print("\nwhere the time goes (each step timed on its own, \(profileRuns) runs):")
        print("  share      ms  steps  kind")
        for s in shares {
            print(String(format: "  %5.1f%%  %6.3f  %5d  %@", s.percent, s.ms, s.steps, s.kind))
        }
        guard layers else { return }
        print("\nevery step in order (median of \(profileRuns) runs):")
        print("      ms  layer                               kind")
        for l in layerList {
            print(String(format: "  %6.3f  %@  %@", l.medianMs, l.layer.padding(toLength: 34, withPad: " ", startingAt: 0), l.kind))
        }
    }
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "A/B: two kernel variants on every convolution shape of a model, with % of one core's FMA peak.",
        discussion: "Samples of A and B alternate until both medians settle; the peak is measured by the same run.")

    @Option(name: .customLong("a"), help: "Variant A (default: the best this CPU runs).")
    var variantA: String?

    @Option(name: .customLong("b"), help: "Variant B, the baseline.")
    var variantB = "scalar"

    @Option(help: "Only shapes whose description or kernel name contains this (e.g. dw, 1x1, conv3x3, fc).")
    var filter: String?

    @Option(help: "Model whose convolution shapes are timed.")
    var model = "lite0"

    @Option(name: .customLong("max-seconds"), help: "Time limit per shape.")
    var maxSeconds = 1.0

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var folder: ModelFolderOptions

    struct Row: Encodable {
        var shape: ConvShape
        var description: String
        var a: KernelBench.Timing
        var b: KernelBench.Timing
        var aPercentOfPeak: Double
        var speedup: Double
    }

    func run() throws {
        let a = variantA ?? KernelVariants.best
        let shapes = try folder.repository.load(model).convolutionShapes
        let peak = try KernelBench.peakGFLOPS(a)
        var rows: [Row] = []
        if !json {
            print(String(format: "%@ vs %@ on %@'s convolutions; one core's %@ peak measured now: %.1f GFLOP/s", a, variantB, model, a, peak))
            print("shape                               kernel A                          µs    GFLOP/s  %peak   kernel B                         µs   A/B")
        }
        for shape in shapes {
            let timings = try KernelBench.compare(shape, variants: [a, variantB], maxSeconds: maxSeconds)
            if let filter, !shape.description.contains(filter), !timings.contains(where: { $0.kernel.contains(filter) }) { continue }
            let row = Row(shape: shape, description: shape.description, a: timings[0], b: timings[1],
                          aPercentOfPeak: 100 * timings[0].gflops / peak,
                          speedup: timings[1].medianMicroseconds / timings[0].medianMicroseconds)
            rows.append(row)
            if !json {
                print(String(format: "%@ %@ %8.1f %8.1f %6.1f%%   %@ %8.1f %5.1fx",
                             shape.description.padding(toLength: 35, withPad: " ", startingAt: 0),
                             row.a.kernel.padding(toLength: 30, withPad: " ", startingAt: 0), row.a.medianMicroseconds, row.a.gflops,
                             row.aPercentOfPeak, row.b.kernel.padding(toLength: 28, withPad: " ", startingAt: 0),
                             row.b.medianMicroseconds, row.speedup))
            }
        }
        if json { try printJSON(rows) }
    }
}
