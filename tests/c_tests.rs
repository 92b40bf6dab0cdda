//! Builds every `c_tests/*.c` program against the freshly built `libinfer.so` and runs each of its
//! cases in a process of its own, reporting them by name (`file::case`) like any cargo test.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>/deps, where `cargo test` builds libinfer.so. (Only `cargo build` copies it
/// up to target/<profile>, so linking there could test a stale library.)
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().expect("target/<profile>/deps/<exe>").to_path_buf()
}

/// A command running a test program against the library in `lib_dir`. cargo puts
/// target/<profile> on LD_LIBRARY_PATH, which outranks the program's runpath, so lib_dir goes
/// first there too.
fn program(exe: &Path, lib_dir: &Path) -> Command {
    let mut paths = vec![lib_dir.to_path_buf()];
    paths.extend(std::env::var_os("LD_LIBRARY_PATH").iter().flat_map(std::env::split_paths));
    let mut cmd = Command::new(exe);
    cmd.env("LD_LIBRARY_PATH", std::env::join_paths(paths).expect("library paths without separators"));
    cmd
}

fn compile(source: &Path, out: &Path, lib_dir: &Path) -> Result<(), String> {
    let target = env!("INFER_BUILD_TARGET");
    let tool = cc::Build::new()
        .cargo_metadata(false)
        .target(target)
        .host(target)
        .opt_level(1)
        .debug(true)
        .get_compiler();
    let mut cmd = tool.to_command();
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"])
        .arg("-I")
        .arg(root().join("include"))
        .arg(source)
        .arg(root().join("c_tests/harness.c"))
        .arg("-o")
        .arg(out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-linfer", "-lm", "-lpthread", "-ldl"]);
    let output = cmd.output().map_err(|e| format!("cannot run the C compiler: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("compiling {} failed:\n{}", source.display(), String::from_utf8_lossy(&output.stderr)))
    }
}

fn main() {
    let args = Arguments::from_args();
    let lib_dir = lib_dir();
    let bin_dir = lib_dir.parent().expect("target/<profile>").join("c_tests");
    std::fs::create_dir_all(&bin_dir).expect("create target/<profile>/c_tests");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root().join("c_tests"))
        .expect("c_tests/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "c") && p.file_name().is_some_and(|n| n != "harness.c"))
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
        let listed = program(&exe, &lib_dir).arg("--list").output().expect("run --list");
        let names = String::from_utf8_lossy(&listed.stdout).to_string();
        if names.trim().is_empty() {
            trials.push(Trial::test(format!("{stem}::has_cases"), || Err(Failed::from("the program lists no test cases"))));
        }
        for name in names.lines().map(str::to_string) {
            let exe = exe.clone();
            let lib_dir = lib_dir.clone();
            trials.push(Trial::test(format!("{stem}::{name}"), move || {
                let out = program(&exe, &lib_dir).arg(&name).output().map_err(|e| Failed::from(e.to_string()))?;
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
