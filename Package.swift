// swift-tools-version:6.1
// Glimpse: a small, fast image-recognition server. See README.md for the tour.
import PackageDescription

let package = Package(
    name: "Glimpse",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glimpse", targets: ["glimpse"]),
        .library(name: "GlimpseEngine", targets: ["GlimpseEngine"]),
        .library(name: "GlimpseImage", targets: ["GlimpseImage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The hot kernels, in C: scalar reference plus SIMD variants, one dispatch table.
        .target(
            name: "CKernels",
            path: "CKernels",
            sources: ["src"],
            publicHeadersPath: "include",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        // libjpeg-turbo's TurboJPEG API (Debian libturbojpeg0-dev).
        .systemLibrary(
            name: "CTurboJPEG",
            path: "Sources/CTurboJPEG",
            pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]
        ),
        // Status codes shared by every module's errors (gRPC numbering).
        .target(name: "GlimpseCore"),
        .target(
            name: "GlimpseEngine",
            dependencies: [
                "GlimpseCore",
                "CKernels",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "GlimpseImage", dependencies: ["GlimpseCore", "CTurboJPEG"]),
        // libnanomsg (Debian libnanomsg-dev) and the thin Swift layer over it.
        .systemLibrary(name: "CNanomsg", path: "Sources/CNanomsg", providers: [.apt(["libnanomsg-dev"])]),
        .target(name: "GlimpseNanomsg", dependencies: ["GlimpseCore", "CNanomsg"]),
        // The RPC contract: generated messages and the frame around them, nothing else.
        .target(
            name: "GlimpseProtocol",
            dependencies: ["GlimpseCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        // The server: front on a raw REP socket, bounded queue, workers, result cache, stats.
        .target(
            name: "GlimpseServer",
            dependencies: [
                "GlimpseEngine", "GlimpseImage", "GlimpseProtocol", "GlimpseNanomsg",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The admin HTTP port (Hummingbird): /metrics, health, a REST classify route into the
        // server's own dispatch, and the demo page. Kept apart so GlimpseServer needs no NIO.
        .target(
            name: "GlimpseAdmin",
            dependencies: [
                "GlimpseServer", "GlimpseProtocol", "GlimpseCore",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The Swift client.
        .target(name: "GlimpseClient", dependencies: ["GlimpseProtocol", "GlimpseNanomsg"]),
        // `glimpse load`: closed- and open-loop load against a server, with its Stats for the same windows.
        .target(
            name: "GlimpseLoad",
            dependencies: [
                "GlimpseCore", "GlimpseImage", "GlimpseProtocol", "GlimpseNanomsg",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        .executableTarget(
            name: "glimpse",
            dependencies: [
                "GlimpseCore",
                "GlimpseEngine",
                "GlimpseImage",
                "GlimpseServer",
                "GlimpseAdmin",
                "GlimpseClient",
                "GlimpseLoad",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CKernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "GlimpseEngineTests", dependencies: ["GlimpseEngine", "GlimpseTestSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "GlimpseImageTests", dependencies: ["GlimpseImage", "GlimpseCore"]),
        // A real server for the server, load and admin tests, and tiny in-memory classifiers (not a product).
        .target(
            name: "GlimpseTestSupport",
            dependencies: ["GlimpseServer", "GlimpseEngine", "GlimpseCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "GlimpseServerTests",
            dependencies: ["GlimpseServer", "GlimpseTestSupport", "GlimpseClient", "GlimpseProtocol", "GlimpseNanomsg",
                           "GlimpseEngine", "GlimpseImage", "GlimpseCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "GlimpseLoadTests",
            dependencies: ["GlimpseLoad", "GlimpseCore", "GlimpseServer", "GlimpseTestSupport", "GlimpseImage", "GlimpseProtocol",
                           .product(name: "Histogram", package: "hdrhistogram-swift")]
        ),
        .testTarget(name: "GlimpseAdminTests", dependencies: ["GlimpseAdmin", "GlimpseServer", "GlimpseTestSupport", "GlimpseClient", "GlimpseProtocol", "GlimpseCore"]),
        // End to end: JPEG → GlimpseImage → GlimpseEngine against the Pillow + ONNX Runtime goldens.
        .testTarget(
            name: "PipelineTests",
            dependencies: ["GlimpseEngine", "GlimpseImage", "GlimpseCore", "GlimpseTestSupport", .product(name: "Logging", package: "swift-log")]
        ),
        // The glimpse binary itself, run as a user would (models, classify) on tiny models in a folder of their own.
        .testTarget(name: "GlimpseCLITests", dependencies: ["GlimpseTestSupport"]),
    ]
)
