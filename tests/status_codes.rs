//! The status codes are listed once, as `infer::Code`; every other list of them must agree with it:
//! the `RT_ERR_*` constants of the committed C header, the table of API.md section 1, the
//! descriptions `rt_status_str` returns, and the constants of the Go binding.

use infer::ffi::error::rt_status_str;
use infer::Code;
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::PathBuf;

fn read(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// `RT_ERR_SHAPE` for `Code::Shape`: the C name, derived from the variant's name.
fn c_name(code: Code) -> String {
    let mut name = String::from("RT_ERR");
    for ch in format!("{code:?}").chars() {
        if ch.is_ascii_uppercase() {
            name.push('_');
        }
        name.push(ch.to_ascii_uppercase());
    }
    name
}

/// The codes every list must hold: RT_OK = 0 and each `Code` under its C name.
fn expected() -> BTreeMap<String, u32> {
    let mut codes: BTreeMap<String, u32> = Code::ALL.iter().map(|&c| (c_name(c), c as u32)).collect();
    codes.insert("RT_OK".into(), 0);
    codes
}

/// The name -> value pairs `parse` finds, one per line at most, in `text`.
fn scan(text: &str, parse: impl Fn(&str) -> Option<(String, u32)>) -> BTreeMap<String, u32> {
    text.lines().filter_map(parse).collect()
}

#[test]
fn code_all_lists_every_variant_once_in_value_order() {
    let values: Vec<u32> = Code::ALL.iter().map(|&c| c as u32).collect();
    assert_eq!(values, (1..=14).collect::<Vec<u32>>());
}

#[test]
fn the_header_defines_exactly_the_codes() {
    let header = scan(&read("include/infer.h"), |l| {
        let rest = l.strip_prefix("#define ")?;
        let (name, value) = rest.split_once(' ')?;
        (name == "RT_OK" || name.starts_with("RT_ERR_")).then_some(())?;
        Some((name.to_string(), value.trim().parse().ok()?))
    });
    assert_eq!(header, expected());
}

#[test]
fn api_md_tables_exactly_the_codes() {
    let table = scan(&read("docs/API.md"), |l| {
        let cells: Vec<&str> = l.split('|').map(str::trim).collect();
        let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
        (name == "RT_OK" || name.starts_with("RT_ERR_")).then_some(())?;
        Some((name.to_string(), cells.get(2)?.parse().ok()?))
    });
    assert_eq!(table, expected());
}

#[test]
fn rt_status_str_describes_each_code_under_its_name() {
    for (name, value) in expected() {
        let text = unsafe { CStr::from_ptr(rt_status_str(value)) }.to_str().unwrap();
        assert!(text.starts_with(&format!("{name}: ")), "rt_status_str({value}) = {text:?}, expected it to start with {name}");
    }
    let unknown = unsafe { CStr::from_ptr(rt_status_str(15)) }.to_str().unwrap();
    assert_eq!(unknown, "unknown status code");
}

#[test]
fn the_go_binding_names_every_code() {
    let go = read("bindings/go/errors.go");
    let named: Vec<String> = go.lines().filter_map(|l| l.split_once("Status = C.").map(|(_, c)| c.trim().to_string())).collect();
    let mut want: Vec<String> = expected().into_keys().collect();
    let mut got = named.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "bindings/go/errors.go must declare a Status constant for each code, once");
}
