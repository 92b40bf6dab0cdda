//! Builds every `cpp_tests/*.cpp` program (C++17, against include/infer.hpp) with the freshly built
//! `libinfer.so` and runs each of its cases in a process of its own, reported as `file::case`.
//! The same scheme as tests/c_tests.rs, with the C++ compiler the `cc` crate picks.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/soname.rs"]
mod soname;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, where cargo put libinfer.so next to this test's deps/ folder.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<exe>").to_path_buf()
}

/// `cargo test` links its test binaries against the rlib only, so build the shared library of
/// the same profile explicitly: the programs must never run against a stale libinfer.so.
fn build_shared_library(lib_dir: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--lib", "--manifest-path"]).arg(root().join("Cargo.toml"));
    cmd.arg("--target-dir").arg(lib_dir.parent().expect("target dir"));
    if lib_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed");
}

fn compile(source: &Path, out: &Path, lib_dir: &Path) -> Result<(), String> {
    let target = env!("INFER_BUILD_TARGET");
    let tool = cc::Build::new().cpp(true).cargo_metadata(false).target(target).host(target).opt_level(1).debug(true).get_compiler();
    let mut cmd = tool.to_command();
    cmd.args(["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("cpp_tests"))
        .arg(source)
        .arg("-o")
        .arg(out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-linfer", "-lm", "-ldl"]);
    let output = cmd.output().map_err(|e| format!("cannot run the C++ compiler: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("compiling {} failed:\n{}", source.display(), String::from_utf8_lossy(&output.stderr)))
    }
}

fn main() {
    let args = Arguments::from_args();
    let lib_dir = lib_dir();
    build_shared_library(&lib_dir);
    soname::link_soname(&lib_dir);
    let bin_dir = lib_dir.join("cpp_tests");
    std::fs::create_dir_all(&bin_dir).expect("create target/<profile>/cpp_tests");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root().join("cpp_tests"))
        .expect("cpp_tests/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cpp"))
        .collect();
    sources.sort();

    let mut trials = Vec::new();
    for source in sources {
        let stem = source.file_stem().unwrap().to_string_lossy().to_string();
        let exe = bin_dir.join(&stem);
        if let Err(e) = compile(&source, &exe, &lib_dir) {
            trials.push(Trial::test(format!("{stem}::compile"), move || Err(Failed::from(e))));
            continue;
        }
        let listed = Command::new(&exe).arg("--list").output().expect("run --list");
        let names = String::from_utf8_lossy(&listed.stdout).to_string();
        if names.trim().is_empty() {
            trials.push(Trial::test(format!("{stem}::has_cases"), || Err(Failed::from("the program lists no test cases"))));
        }
        for name in names.lines().map(str::to_string) {
            let exe = exe.clone();
            trials.push(Trial::test(format!("{stem}::{name}"), move || {
                let out = Command::new(&exe).arg(&name).output().map_err(|e| Failed::from(e.to_string()))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(Failed::from(format!(
                        "{} exited with {}\n{}{}",
                        name,
                        out.status,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    )))
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
