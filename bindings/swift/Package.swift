// swift-tools-version:5.9
// The Swift binding of libinfer: a system-library module over include/infer.h (found with
// pkg-config name `infer`) and a thin Swift API on top. See README.md for building and testing.
import PackageDescription

let package = Package(
    name: "Infer",
    products: [
        .library(name: "Infer", targets: ["Infer"]),
    ],
    targets: [
        .systemLibrary(name: "CInfer", pkgConfig: "infer"),
        .target(name: "Infer", dependencies: ["CInfer"]),
        .testTarget(name: "InferTests", dependencies: ["Infer"]),
    ]
)
