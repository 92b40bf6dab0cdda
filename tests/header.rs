//! The public header and the shared library agree with the sources:
//! - the committed include/infer.h is exactly what build.rs generates with cbindgen now;
//! - infer.h compiles on its own as C11 and as C++17 without a single warning;
//! - libinfer.so exports every `rt_` function the header declares, and nothing else.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed_header() -> String {
    std::fs::read_to_string(root().join("include/infer.h")).expect("include/infer.h is readable")
}

/// `None` when the two header texts are identical, else where they first differ.
fn header_difference(committed: &str, fresh: &str) -> Option<String> {
    if committed == fresh {
        return None;
    }
    let (mut c, mut f) = (committed.lines(), fresh.lines());
    for line in 1.. {
        match (c.next(), f.next()) {
            (Some(a), Some(b)) if a == b => continue,
            (a, b) => {
                return Some(format!(
                    "line {line}:\n  committed: {}\n  generated: {}",
                    a.unwrap_or("<end of file>"),
                    b.unwrap_or("<end of file>")
                ))
            }
        }
    }
    unreachable!("the loop returns at the first difference")
}

#[test]
fn committed_header_matches_generated() {
    let fresh = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/infer.h")).expect("build.rs wrote $OUT_DIR/infer.h");
    if let Some(diff) = header_difference(&committed_header(), &fresh) {
        panic!(
            "include/infer.h is out of date with src/ffi (first difference at {diff})\n\
             Regenerate it with `INFER_UPDATE_HEADER=1 cargo build` and commit include/infer.h."
        );
    }
}

#[test]
fn header_comparison_detects_changes() {
    let header = committed_header();
    assert_eq!(header_difference(&header, &header.clone()), None);
    let renamed = header.replacen("rt_tensor_free", "rt_tensor_release", 1);
    assert!(header_difference(&header, &renamed).is_some_and(|d| d.contains("rt_tensor_release")));
    let truncated = &header[..header.len() / 2];
    assert!(header_difference(&header, truncated).is_some());
    let extended = format!("{header}int rt_extra(void);\n");
    assert!(header_difference(&header, &extended).is_some_and(|d| d.contains("rt_extra")));
    assert!(header_difference(&header, &header.replace('\n', "\r\n")).is_some());
}

fn check_standalone(cpp: bool) -> Result<(), String> {
    let target = env!("INFER_BUILD_TARGET");
    let tool = cc::Build::new().cargo_metadata(false).target(target).host(target).opt_level(0).cpp(cpp).get_compiler();
    let (lang, std) = if cpp { ("c++", "-std=c++17") } else { ("c", "-std=c11") };
    let output = tool
        .to_command()
        .args([std, "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-I"])
        .arg(root().join("include"))
        .args(["-x", lang])
        .arg(root().join("tests/header/standalone.c"))
        .output()
        .map_err(|e| format!("cannot run the {lang} compiler {:?}: {e}", tool.path()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "include/infer.h does not compile standalone as {std}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

#[test]
fn header_compiles_standalone_as_c11() {
    check_standalone(false).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn header_compiles_standalone_as_cpp17() {
    check_standalone(true).unwrap_or_else(|e| panic!("{e}"));
}

/// Drops `/* */` and `//` comments so names mentioned in documentation are not taken for declarations.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Names of the functions the header declares: every `rt_` identifier followed by `(`, except a
/// return type before a function-pointer declarator such as `rt_status (*f)(void *ctx)`.
fn declared_functions(header: &str) -> BTreeSet<String> {
    let code = strip_comments(header);
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for (start, _) in code.match_indices("rt_") {
        if code[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let tail = &code[start..];
        let end = tail.find(|c: char| !is_ident(c)).unwrap_or(tail.len());
        let after = tail[end..].trim_start();
        if after.starts_with('(') && !after[1..].trim_start().starts_with('*') {
            names.insert(tail[..end].to_string());
        }
    }
    names
}

/// The libinfer.so this `cargo test` built: target/<profile>/deps, next to this test executable
/// (only `cargo build` copies it up to target/<profile>, so that copy may be missing or stale).
fn shared_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().expect("target/<profile>/deps/<exe>").join("libinfer.so")
}

fn exported_symbols(lib: &Path) -> BTreeSet<String> {
    let output = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm (binutils) on {}: {e}", lib.display()));
    assert!(output.status.success(), "nm failed on {}:\n{}", lib.display(), String::from_utf8_lossy(&output.stderr));
    // Lines are `<address> <type> <name>`; versioned names print as `name@@VERSION`.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().nth(2))
        .map(|name| name.split('@').next().unwrap().to_string())
        .collect()
}

#[test]
fn declared_functions_parser_ignores_comments_and_types() {
    let names = declared_functions(
        "/** see rt_doc_only(x) */\ntypedef struct rt_tensor rt_tensor;\n// rt_line_comment()\n\
         rt_status rt_a(const struct rt_tensor *t, rt_status (*f)(void *ctx));\nvoid rt_b (void);\nint not_rt_c(void);\n",
    );
    assert_eq!(names, BTreeSet::from(["rt_a".to_string(), "rt_b".to_string()]));
}

#[test]
fn shared_library_exports_exactly_the_header_functions() {
    let declared = declared_functions(&committed_header());
    assert!(declared.len() > 50, "the header parser found only {} functions: {declared:?}", declared.len());
    let lib = shared_library();
    assert!(lib.exists(), "{} is missing; cargo builds it for integration tests", lib.display());
    let exported = exported_symbols(&lib);
    let missing: Vec<_> = declared.difference(&exported).collect();
    let extra: Vec<_> = exported.difference(&declared).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} and include/infer.h disagree.\n  declared but not exported: {missing:?}\n  exported but not declared: {extra:?}",
        lib.display()
    );
}
