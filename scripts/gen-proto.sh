#!/usr/bin/env bash
# Regenerates the committed Swift code for proto/ (protoc + swift-protobuf's protoc-gen-swift).
# protoc-gen-swift takes minutes to build, so the output is committed and this runs only
# when a .proto changes. Needs Debian's protobuf-compiler for protoc.
set -euo pipefail
cd "$(dirname "$0")/.."

plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
    # Build the plugin from the swift-protobuf checkout this package already resolves,
    # so the generator and the runtime library are the same version.
    swift package resolve
    src=.build/checkouts/swift-protobuf
    swift build -c release --package-path "$src" --scratch-path .build-protoc-gen-swift \
        --product protoc-gen-swift
    plugin="$PWD/.build-protoc-gen-swift/release/protoc-gen-swift"
fi

gen() { # gen PROTO_ROOT OUT_DIR FILE...
    local root=$1 out=$2; shift 2
    mkdir -p "$out"
    protoc --plugin=protoc-gen-swift="$plugin" -I "$root" \
        --swift_opt=Visibility=Public --swift_out="$out" "$@"
}

gen proto/onnx Sources/GlimpseEngine/Generated onnx.proto
gen proto Sources/GlimpseProtocol/Generated glimpse/v1/glimpse.proto
echo "generated Swift code is up to date"
