//! Generates the C header from src/ffi with cbindgen into $OUT_DIR/infer.h. The committed
//! include/infer.h must equal it (tests/header.rs checks), so the header can never drift.

use std::path::PathBuf;

/// RT_ABI_VERSION as src/ffi/types.rs defines it (the one source of truth for the ABI version).
fn abi_version(crate_dir: &std::path::Path) -> u32 {
    let path = crate_dir.join("src/ffi/types.rs");
    let text = std::fs::read_to_string(&path).expect("src/ffi/types.rs is readable");
    text.lines()
        .find_map(|l| l.trim().strip_prefix("pub const RT_ABI_VERSION: u32 = ")?.strip_suffix(';')?.parse().ok())
        .expect("src/ffi/types.rs defines `pub const RT_ABI_VERSION: u32 = N;`")
}

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("infer.h");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header from src/ffi")
        .write_to_file(&out);
    if std::env::var_os("INFER_UPDATE_HEADER").is_some() {
        std::fs::copy(&out, crate_dir.join("include/infer.h")).expect("include/infer.h is writable");
    }
    println!("cargo:rerun-if-env-changed=INFER_UPDATE_HEADER");
    // The shared library's SONAME carries the ABI version, libinfer.so.<RT_ABI_VERSION>: programs
    // record it and keep working with later releases until the ABI changes. Only ELF platforms have
    // a SONAME. A program linked against target/<profile>/libinfer.so then looks for
    // libinfer.so.1 at run time, so whatever runs programs from the build tree links that name to
    // libinfer.so (tests/c_tests.rs, cmake/InferCargo.cmake, bindings/write-pc.sh).
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap();
    if !matches!(os.as_str(), "macos" | "ios" | "windows") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libinfer.so.{}", abi_version(&crate_dir));
    }
    // The C test harness (tests/c_tests.rs) compiles C for the same target.
    println!("cargo:rustc-env=INFER_BUILD_TARGET={}", std::env::var("TARGET").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
}
