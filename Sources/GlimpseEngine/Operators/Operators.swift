// The operator table: every ONNX op_type the engine imports, and the importer that validates its
// attributes, infers its shape and folds it when its inputs are constants.
//
// An operator lives in one file here: its importer (`extension NodeImport`), its reference arithmetic
// (`extension Reference`, used for constant folding), its lowering (`extension Lowering`, dispatched from
// `Lowering.lower` on the engine's `Op`) and its step. Adding one is that file, its line in this table and
// its `Op` case (the compiler then asks for the lowering's one line).

enum Operators {
    typealias Importer = @Sendable (inout NodeImport) throws(EngineError) -> Void

    static let importers: [String: Importer] = [
        "Conv": { node throws(EngineError) in try node.conv() },
        "BatchNormalization": { node throws(EngineError) in try node.batchNormalization() },
        "Relu": { node throws(EngineError) in try node.activation() },
        "Sigmoid": { node throws(EngineError) in try node.activation() },
        "HardSigmoid": { node throws(EngineError) in try node.activation() },
        "HardSwish": { node throws(EngineError) in try node.activation() },
        "Clip": { node throws(EngineError) in try node.clip() },
        "Add": { node throws(EngineError) in try node.binary() },
        "Sub": { node throws(EngineError) in try node.binary() },
        "Mul": { node throws(EngineError) in try node.binary() },
        "Div": { node throws(EngineError) in try node.binary() },
        "MaxPool": { node throws(EngineError) in try node.pool() },
        "AveragePool": { node throws(EngineError) in try node.pool() },
        "GlobalAveragePool": { node throws(EngineError) in try node.globalAveragePool() },
        "Concat": { node throws(EngineError) in try node.concat() },
        "Reshape": { node throws(EngineError) in try node.reshape() },
        "Flatten": { node throws(EngineError) in try node.flatten() },
        "Squeeze": { node throws(EngineError) in try node.squeezeOrUnsqueeze() },
        "Unsqueeze": { node throws(EngineError) in try node.squeezeOrUnsqueeze() },
        "Identity": { node throws(EngineError) in try node.identity() },
        "Dropout": { node throws(EngineError) in try node.identity() },
        "Transpose": { node throws(EngineError) in try node.transpose() },
        "Gemm": { node throws(EngineError) in try node.gemm() },
        "MatMul": { node throws(EngineError) in try node.matMul() },
        "Softmax": { node throws(EngineError) in try node.softmax() },
        "ReduceMean": { node throws(EngineError) in try node.reduceMean() },
        "Pad": { node throws(EngineError) in try node.pad() },
        "Constant": { node throws(EngineError) in try node.constant() },
        "Shape": { node throws(EngineError) in try node.shapeOf() },
        "Gather": { node throws(EngineError) in try node.gatherOrCast() },
        "Cast": { node throws(EngineError) in try node.gatherOrCast() },
    ]
}
