// Constants as the steps read them: stored once per program, 4-D ones transposed to NHWC, conv weights packed
// into the chosen kernel's panels.
import CKernels

extension Lowering {
    func store(_ name: String) -> UnsafePointer<Float> {
        storedConstants[name] ?? storage.store(graph.constants[name]!.floats)
    }

    /// The constant `name`, laid out for `layout` (4-D constants are transposed once here).
    mutating func constantPointer(_ name: String, _ layout: Layout, rank4Shape: [Int]? = nil) -> UnsafePointer<Float> {
        let key = "\(name)#\(layout)"
        if let pointer = storedConstants[key] { return pointer }
        var value = graph.constants[name]!
        if layout == .nhwc, let shape = rank4Shape {
            value.shape = shape
            value = Reference.transpose(value, perm: [0, 2, 3, 1])
        }
        let pointer = storage.store(value.floats)
        storedConstants[key] = pointer
        return pointer
    }

    /// Picks the kernel for `p` and packs the weights (OIHW) and bias for it.
    mutating func packConv(_ name: String, _ p: gl_conv2d_params, weights: [Float], bias: [Float]?) throws(EngineError)
        -> (kernel: UnsafePointer<gl_conv2d_kernel>, packed: UnsafePointer<Float>) {
        let kernel = try selectConv(name, p)
        let size = withUnsafePointer(to: p) { kernel.pointee.packed_size($0) }
        let packed = storage.allocate(size)
        withUnsafePointer(to: p) { params in
            weights.withUnsafeBufferPointer { w in
                if let bias {
                    bias.withUnsafeBufferPointer { kernel.pointee.pack(params, w.baseAddress, $0.baseAddress, packed) }
                } else {
                    kernel.pointee.pack(params, w.baseAddress, nil, packed)
                }
            }
        }
        return (kernel, UnsafePointer(packed))
    }

    /// The kernel the table picks for `p` (recorded for profiles and tests).
    mutating func selectConv(_ name: String, _ p: gl_conv2d_params) throws(EngineError) -> UnsafePointer<gl_conv2d_kernel> {
        guard let kernel = withUnsafePointer(to: p, { gl_conv2d_select(kernels, $0) }) else {
            throw .unsupportedFeature(node: name, what: "this convolution shape (no kernel in \(String(cString: kernels.pointee.variant)))")
        }
        convKernels.append((name, String(cString: kernel.pointee.name)))
        return kernel
    }

    /// Picks the kernel for `p`, packs the weights (OIHW) and emits the step.
    mutating func emitConv(_ name: String, _ p: gl_conv2d_params, weights: [Float], bias: [Float]?,
                                   input: Ref, residual: Ref?, output: Int, batch: Int) throws(EngineError) {
        let (kernel, packedPointer) = try packConv(name, p, weights: weights, bias: bias)
        emit([input] + (residual.map { [$0] } ?? []), output: output) { ops, out in
            ConvStep(kernel: kernel, params: p, packed: packedPointer, input: ops[0],
                     residual: residual == nil ? nil : ops[1], output: out, batch: batch)
        }
        pending[pending.count - 1].conv = Conv(kernel: kernel, params: p, packed: packedPointer, input: input,
                                               residual: residual, batch: batch)
    }
}
