//! Builds every `c_tests/*.c` program against the freshly built `libinfer.so` and runs each of its
//! cases in a process of its own, reporting them by name (`file::case`) like any cargo test.
//!
//! `INFER_C_TESTS_MODE` picks how (see docs/bad-inputs.md, "Checking the boundary"):
//! - unset or `plain`: as they are;
//! - `asan`: the library is rebuilt with `-Zsanitizer=address` (stable rustc with
//!   RUSTC_BOOTSTRAP=1, into target/asan/) and the C programs with
//!   `-fsanitize=address,undefined`; any ASan, LeakSanitizer or UBSan report fails the case;
//! - `valgrind`: the ordinary build, each case under `valgrind --tool=memcheck`; any memcheck error
//!   or a single byte definitely lost fails the case;
//! - `tsan`: the library and the standard library rebuilt with `-Zsanitizer=thread -Zbuild-std`
//!   (needs the rust-src component; into target/tsan/), the C programs with `-fsanitize=thread`;
//!   any ThreadSanitizer report fails the case.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/soname.rs"]
mod soname;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Asan,
    Valgrind,
    Tsan,
}

impl Mode {
    /// For the sanitizer modes: the folder under target/ of the instrumented library, its
    /// RUSTFLAGS, and whether std is rebuilt with it.
    fn sanitizer_build(self) -> Option<(&'static str, &'static str, bool)> {
        match self {
            Mode::Asan => Some(("asan", "-Zsanitizer=address", false)),
            // TSan cannot see the synchronization of an uninstrumented std (Arc's fences, its
            // futex locks), so std is rebuilt with the library.
            Mode::Tsan => Some(("tsan", "-Zsanitizer=thread", true)),
            Mode::Plain | Mode::Valgrind => None,
        }
    }

    fn from_env() -> Mode {
        match std::env::var("INFER_C_TESTS_MODE").as_deref() {
            Err(_) | Ok("") | Ok("plain") => Mode::Plain,
            Ok("asan") => Mode::Asan,
            Ok("valgrind") => Mode::Valgrind,
            Ok("tsan") => Mode::Tsan,
            Ok(other) => panic!("INFER_C_TESTS_MODE={other} is not one of plain, asan, valgrind, tsan"),
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, where cargo put this test's deps/ folder.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<exe>").to_path_buf()
}

/// Builds libinfer.so for `mode` and returns the folder holding it.
/// `cargo test` links its test binaries against the rlib only, so the shared library of the same
/// profile is built explicitly: the C programs must never run against a stale libinfer.so.
fn build_shared_library(mode: Mode) -> PathBuf {
    let profile_dir = profile_dir();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--lib", "--manifest-path"]).arg(root().join("Cargo.toml"));
    if release {
        cmd.arg("--release");
    }
    let lib_dir = if let Some((dir, flags, build_std)) = mode.sanitizer_build() {
        // An explicit --target keeps RUSTFLAGS off build scripts; a target dir of its own keeps the
        // instrumented build from invalidating the ordinary one.
        let target = env!("INFER_BUILD_TARGET");
        let sanitized_dir = target_dir.join(dir);
        cmd.arg("--target").arg(target).arg("--target-dir").arg(&sanitized_dir);
        if build_std {
            cmd.arg("-Zbuild-std");
        }
        cmd.env("RUSTC_BOOTSTRAP", "1").env("RUSTFLAGS", flags).env_remove("CARGO_ENCODED_RUSTFLAGS");
        sanitized_dir.join(target).join(profile_dir.file_name().expect("profile name"))
    } else {
        cmd.arg("--target-dir").arg(&target_dir);
        profile_dir
    };
    let status = cmd.status().expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed");
    lib_dir
}

fn compile(source: &Path, out: &Path, lib_dir: &Path, mode: Mode) -> Result<(), String> {
    let target = env!("INFER_BUILD_TARGET");
    let tool = cc::Build::new().cargo_metadata(false).target(target).host(target).opt_level(1).debug(true).get_compiler();
    let mut cmd = tool.to_command();
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]);
    match mode {
        Mode::Asan => {
            cmd.args(["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]);
        }
        Mode::Tsan => {
            cmd.arg("-fsanitize=thread").arg(root().join("tests/c_tests_tsan_shim.c"));
        }
        Mode::Plain | Mode::Valgrind => {}
    }
    cmd.arg("-I")
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

/// `exe` run with `lib_dir` first on the library path: cargo puts target/<profile> on
/// LD_LIBRARY_PATH for tests, which would win over the programs' rpath and load the plain
/// libinfer.so in place of a sanitized one.
fn program(exe: &Path, lib_dir: &Path) -> Command {
    let mut paths = vec![lib_dir.to_path_buf()];
    paths.extend(std::env::var_os("LD_LIBRARY_PATH").iter().flat_map(std::env::split_paths));
    let mut cmd = Command::new(exe);
    cmd.env("LD_LIBRARY_PATH", std::env::join_paths(paths).expect("library path"));
    cmd
}

/// The command running one case of `exe` in `mode`.
fn case_command(exe: &Path, lib_dir: &Path, case: &str, mode: Mode) -> Command {
    let mut cmd = match mode {
        Mode::Plain | Mode::Asan | Mode::Tsan => program(exe, lib_dir),
        Mode::Valgrind => {
            let mut cmd = program(Path::new("valgrind"), lib_dir);
            // Process-lifetime allocations (the handle table, the thread pool, thread-locals) are
            // "still reachable"; only "definitely lost" bytes count as a leak.
            cmd.args([
                "--tool=memcheck",
                "--quiet",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--show-leak-kinds=definite",
            ])
            .arg(exe);
            cmd
        }
    };
    cmd.arg(case);
    // allocator_may_return_null: a failed allocation must reach the library as a NULL (which it
    // reports as RT_ERR_OUT_OF_MEMORY), as it does without a sanitizer. Caller options come last.
    let user = |var: &str| std::env::var(var).map(|v| format!(":{v}")).unwrap_or_default();
    match mode {
        Mode::Asan => {
            cmd.env("ASAN_OPTIONS", format!("detect_leaks=1:allocator_may_return_null=1:halt_on_error=1{}", user("ASAN_OPTIONS")));
            cmd.env("UBSAN_OPTIONS", format!("print_stacktrace=1:halt_on_error=1{}", user("UBSAN_OPTIONS")));
        }
        Mode::Tsan => {
            cmd.env("TSAN_OPTIONS", format!("allocator_may_return_null=1:halt_on_error=1:second_deadlock_stack=1{}", user("TSAN_OPTIONS")));
        }
        Mode::Plain | Mode::Valgrind => {}
    }
    cmd
}

fn main() {
    let args = Arguments::from_args();
    let mode = Mode::from_env();
    let lib_dir = build_shared_library(mode);
    soname::link_soname(&lib_dir);
    // Sanitizer modes have library folders of their own; plain and valgrind share the binaries.
    let bin_dir = lib_dir.join("c_tests");
    std::fs::create_dir_all(&bin_dir).expect("create the C test binary folder");
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
        if let Err(e) = compile(&source, &exe, &lib_dir, mode) {
            trials.push(Trial::test(format!("{stem}::compile"), move || Err(Failed::from(e))));
            continue;
        }
        let listed = program(&exe, &lib_dir).arg("--list").output().expect("run --list");
        let names = String::from_utf8_lossy(&listed.stdout).to_string();
        if names.trim().is_empty() {
            trials.push(Trial::test(format!("{stem}::has_cases"), || Err(Failed::from("the program lists no test cases"))));
        }
        for name in names.lines().map(str::to_string) {
            let (exe, lib_dir) = (exe.clone(), lib_dir.clone());
            trials.push(Trial::test(format!("{stem}::{name}"), move || {
                let out = case_command(&exe, &lib_dir, &name, mode).output().map_err(|e| Failed::from(e.to_string()))?;
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
