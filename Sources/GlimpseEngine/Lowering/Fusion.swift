// Fusions across steps, after each node is lowered: a conv and the depthwise conv that reads it, band by band.
import CKernels

extension Lowering {
    /// Replaces each conv followed by the depthwise conv that is its only reader (a pointwise
    /// expansion, or a stem) with one ExpandDepthwiseStep, when the tensor between them is bigger
    /// than a few bands (smaller ones stay in cache anyway). That tensor then has no buffer at all.
    mutating func fuseExpandDepthwise(outputs: [Int]) {
        var readers: [Int: Int] = [:]
        for step in pending { for id in step.inputs { readers[root(id), default: 0] += 1 } }
        for id in outputs { readers[root(id), default: 0] += 1 }
        var fused: [Pending] = []
        var index = 0
        while index < pending.count {
            defer { index += 1 }
            guard index + 1 < pending.count, let e = pending[index].conv, let d = pending[index + 1].conv,
                  let expanded = d.input.buffer, root(expanded) == root(pending[index].output),
                  readers[root(expanded)] == 1, e.residual == nil, e.batch == 1, d.batch == 1 else {
                fused.append(pending[index])
                continue
            }
            var dwParams = d.params
            let band = gl_expand_dw_band_rows(&dwParams, options.fusedBandBytes)
            var f = gl_expand_dw(expand: e.kernel, expand_params: e.params, expand_packed: e.packed,
                                 dw: d.kernel, dw_params: d.params, dw_packed: d.packed, band_rows: band)
            let expandedBytes = d.params.in_h * d.params.in_w * d.params.in_c * MemoryLayout<Float>.size
            guard gl_expand_dw_valid(&f) != 0, d.params.stride_h == d.params.stride_w,
                  expandedBytes >= 4 * options.fusedBandBytes else {
                fused.append(pending[index])
                continue
            }
            let dwStep = pending[index + 1]
            let refs = [e.input] + (d.residual.map { [$0] } ?? [])
            let hasResidual = d.residual != nil
            fused.append(Pending(inputs: refs.compactMap(\.buffer), output: dwStep.output) { [f] offset in
                let ops = refs.map { $0.operand(offset) }
                return ExpandDepthwiseStep(f, input: ops[0], residual: hasResidual ? ops[1] : nil, output: offset(dwStep.output))
            })
            index += 1
        }
        pending = fused
    }
}

/// A conv (a pointwise expansion, or a stem) and the depthwise conv that alone reads its output,
/// computed band by band (gl_expand_dw_run_parallel): that tensor lives only in the session's scratch.
final class ExpandDepthwiseStep: Step, @unchecked Sendable {
    private let fused: UnsafeMutablePointer<gl_expand_dw>
    let input: Operand, residual: Operand?, output: Int

    var kind: String {
        "\(String(cString: fused.pointee.expand.pointee.name)) + \(String(cString: fused.pointee.dw.pointee.name))"
    }
    var layer: String { shapes.map(\.description).joined(separator: " + ") }
    /// The two convolutions, as the kernel bench sees them.
    var shapes: [ConvShape] {
        [ConvShape(fused.pointee.expand_params, residual: false), ConvShape(fused.pointee.dw_params, residual: residual != nil)]
    }

    init(_ fused: gl_expand_dw, input: Operand, residual: Operand?, output: Int) {
        self.fused = .allocate(capacity: 1)
        self.fused.initialize(to: fused)
        (self.input, self.residual, self.output) = (input, residual, output)
    }

    deinit { fused.deallocate() }

    func scratchFloats(threads: Int) -> Int { gl_expand_dw_scratch_floats(fused, threads) }

    var weights: UnsafeRawBufferPointer? {
        let floats = withUnsafePointer(to: fused.pointee.expand_params) { fused.pointee.expand.pointee.packed_size($0) }
        return UnsafeRawBufferPointer(start: fused.pointee.expand_packed, count: floats * MemoryLayout<Float>.size)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        gl_expand_dw_run_parallel(context.pool, fused, input.pointer(arena), residual?.pointer(arena), context.scratch, arena + output)
    }
}
