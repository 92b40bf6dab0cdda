//! Generates the C header from src/ffi with cbindgen into $OUT_DIR/infer.h. The committed
//! include/infer.h must equal it (tests/header.rs checks), so the header can never drift.

use std::path::PathBuf;

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
    // The C test harness (tests/c_tests.rs) compiles C for the same target.
    println!("cargo:rustc-env=INFER_BUILD_TARGET={}", std::env::var("TARGET").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
}
