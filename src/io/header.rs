//! Parsing and validating a safetensors header. The layout is: an 8-byte little-endian header
//! length N, N bytes of UTF-8 JSON (an object mapping each tensor name to its dtype, shape and
//! data_offsets [begin, end) relative to the data section, plus an optional `__metadata__`
//! string-to-string map), then the data section.
//!
//! Nothing in the header is trusted: every claim is checked against the bytes actually present
//! before anything is allocated from it. As in the reference implementation, the tensors must
//! cover the data section exactly, without gaps or overlaps (a gap could hide a second file
//! format in the same bytes), and a name may appear only once.

use super::dtype::FileDtype;
use crate::error::{bail, err, Result};
use crate::shape::fmt_shape;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// Headers larger than this are refused, as the reference implementation does.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One validated tensor: its bytes are `data[begin..end]` of the data section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub dtype: FileDtype,
    pub shape: Vec<usize>,
    pub begin: usize,
    pub end: usize,
}

/// A validated header: entries sorted by name, and where the data section starts in the file.
#[derive(Debug)]
pub struct Header {
    pub entries: Vec<Entry>,
    pub data_start: usize,
}

/// Validates the header of a whole file held in `file`.
pub fn parse(file: &[u8]) -> Result<Header> {
    if file.len() < 8 {
        bail!(Format, "the file is {} bytes, shorter than the 8-byte header length every safetensors file starts with", file.len());
    }
    let n = u64::from_le_bytes(file[..8].try_into().unwrap());
    let available = (file.len() - 8) as u64;
    if n > available {
        bail!(
            Format,
            "the header length is {n} bytes but only {available} bytes follow it; the file is truncated or not a safetensors file"
        );
    }
    if n > MAX_HEADER_BYTES {
        bail!(Format, "the header length is {n} bytes, more than the {MAX_HEADER_BYTES}-byte limit of the format");
    }
    let data_start = 8 + n as usize;
    let text = std::str::from_utf8(&file[8..data_start]).map_err(|e| err!(Format, "the header is not valid UTF-8 ({e})"))?;
    let Fields(fields) = serde_json::from_str(text).map_err(|e| err!(Format, "the header is not a valid JSON object: {e}"))?;
    let data_len = file.len() - data_start;
    let mut entries = Vec::with_capacity(fields.len());
    for (name, value) in fields {
        if name == "__metadata__" {
            metadata(&value)?;
        } else {
            entries.push(entry(name, &value, data_len)?);
        }
    }
    check_coverage(&mut entries, data_len)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Header { entries, data_start })
}

/// The top-level object's members in file order; a repeated key is an error (serde_json would
/// silently keep the last one).
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Fields, A::Error> {
        let mut seen = HashSet::new();
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("the key \"{key}\" appears more than once")));
            }
            fields.push((key, map.next_value::<Value>()?));
        }
        Ok(Fields(fields))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `__metadata__` is a string-to-string map (or null, which the reference also accepts).
fn metadata(v: &Value) -> Result<()> {
    match v {
        Value::Null => Ok(()),
        Value::Object(m) => match m.iter().find(|(_, v)| !v.is_string()) {
            Some((k, v)) => bail!(Format, "__metadata__ entry \"{k}\" is {}; metadata values must be strings", kind(v)),
            None => Ok(()),
        },
        other => bail!(Format, "__metadata__ is {}; it must be an object mapping strings to strings", kind(other)),
    }
}

/// A non-negative integer that fits usize.
fn index(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|x| usize::try_from(x).ok())
}

fn entry(name: String, v: &Value, data_len: usize) -> Result<Entry> {
    let Value::Object(obj) = v else {
        bail!(Format, "tensor \"{name}\" is described by {} instead of an object with dtype, shape and data_offsets", kind(v));
    };
    let field = |key: &str| obj.get(key).ok_or_else(|| err!(Format, "tensor \"{name}\" has no \"{key}\" field"));
    let dtype = match field("dtype")? {
        Value::String(s) => FileDtype::from_name(s)
            .ok_or_else(|| err!(Format, "tensor \"{name}\" has unknown dtype \"{s}\"; the format defines {}", FileDtype::all_names()))?,
        other => bail!(Format, "tensor \"{name}\" has a dtype that is {} instead of a string", kind(other)),
    };
    let Value::Array(dims) = field("shape")? else {
        bail!(Format, "tensor \"{name}\" has a shape that is not an array");
    };
    let mut shape = Vec::with_capacity(dims.len());
    for (i, d) in dims.iter().enumerate() {
        match index(d) {
            Some(d) => shape.push(d),
            None => bail!(Format, "tensor \"{name}\" has shape[{i}] = {d}; dimensions must be non-negative integers"),
        }
    }
    // Bounding the product of all sizes (zeros counted as 1) keeps numel, strides and the I64
    // buffer a load makes within isize, whatever zero-size dims hide.
    let bounded = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1))).filter(|&n| n <= isize::MAX as usize / 8);
    if bounded.is_none() {
        bail!(Format, "tensor \"{name}\" has shape {} whose element count overflows", fmt_shape(&shape));
    }
    let numel: usize = shape.iter().product();
    let bits = numel * dtype.bits();
    if !bits.is_multiple_of(8) {
        bail!(Format, "tensor \"{name}\" has {numel} elements of {}, which do not fill a whole number of bytes", dtype.name());
    }
    let nbytes = bits / 8;
    let offsets = match field("data_offsets")? {
        Value::Array(o) if o.len() == 2 => o,
        _ => bail!(Format, "tensor \"{name}\" has data_offsets that are not an array [begin, end]"),
    };
    let (Some(begin), Some(end)) = (index(&offsets[0]), index(&offsets[1])) else {
        bail!(Format, "tensor \"{name}\" has data_offsets [{}, {}]; offsets must be non-negative integers", offsets[0], offsets[1]);
    };
    if begin > end {
        bail!(Format, "tensor \"{name}\" has data_offsets [{begin}, {end}] whose begin is after its end");
    }
    if end > data_len {
        bail!(Format, "tensor \"{name}\" has data_offsets [{begin}, {end}] but the data section is only {data_len} bytes; the file is truncated or the offsets are wrong");
    }
    if end - begin != nbytes {
        bail!(
            Format,
            "tensor \"{name}\" has data_offsets [{begin}, {end}] covering {} bytes, but shape {} of {} needs {nbytes} bytes",
            end - begin,
            fmt_shape(&shape),
            dtype.name()
        );
    }
    Ok(Entry { name, dtype, shape, begin, end })
}

/// Sorted by position, each tensor must start where the previous one ended, from 0 to the end
/// of the data section.
fn check_coverage(entries: &mut [Entry], data_len: usize) -> Result<()> {
    entries.sort_by_key(|e| (e.begin, e.end));
    let mut pos = 0usize;
    let mut prev: Option<&str> = None;
    for e in entries.iter() {
        if e.begin < pos {
            bail!(
                Format,
                "tensor \"{}\" (bytes {}..{}) overlaps tensor \"{}\" (which ends at byte {pos})",
                e.name,
                e.begin,
                e.end,
                prev.unwrap_or("")
            );
        }
        if e.begin > pos {
            bail!(
                Format,
                "tensor \"{}\" starts at byte {} but the bytes before it end at {pos}; the format does not allow gaps in the data section",
                e.name,
                e.begin
            );
        }
        pos = e.end;
        prev = Some(&e.name);
    }
    if pos != data_len {
        bail!(Format, "the tensors cover {pos} bytes but the data section has {data_len}; the format does not allow unused trailing bytes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    /// A file with this header text (unpadded) and `data_len` zero bytes of data.
    fn file(header: &str, data_len: usize) -> Vec<u8> {
        let mut f = (header.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(header.as_bytes());
        f.resize(f.len() + data_len, 0);
        f
    }

    fn format_error(bytes: &[u8], mention: &str) {
        let e = parse(bytes).unwrap_err();
        assert_eq!(e.code, Code::Format, "{}", e.message);
        assert!(e.message.contains(mention), "\"{}\" does not mention \"{mention}\"", e.message);
    }

    #[test]
    fn valid_header_with_metadata_and_padding() {
        let h = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}    "#;
        let p = parse(&file(h, 16)).unwrap();
        assert_eq!(p.data_start, 8 + h.len());
        let names: Vec<_> = p.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p.entries[0], Entry { name: "a".into(), dtype: FileDtype::I64, shape: vec![], begin: 8, end: 16 });
    }

    #[test]
    fn empty_object_and_zero_size_tensors() {
        assert!(parse(&file("{}", 0)).unwrap().entries.is_empty());
        let h = r#"{"z":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"y":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#;
        assert_eq!(parse(&file(h, 1)).unwrap().entries.len(), 2);
    }

    #[test]
    fn short_file() {
        format_error(&[1, 0, 0], "shorter than the 8-byte");
        format_error(&[], "0 bytes");
    }

    #[test]
    fn header_length_beyond_file() {
        let mut f = u64::MAX.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        format_error(&f, "only 2 bytes follow");
        let mut f = file("{}", 0);
        f[0] = 3;
        format_error(&f, "header length is 3 bytes but only 2");
    }

    #[test]
    fn bad_json_and_non_objects() {
        format_error(&file("{\"a\":", 0), "not a valid JSON object");
        format_error(&file("[1,2]", 0), "expected a JSON object");
        format_error(&file("42", 0), "expected a JSON object");
        format_error(&file("{} x", 0), "not a valid JSON object");
        format_error(&file("{\"a\":{\"dtype\":\"F32\"}", 0), "not a valid JSON object");
        let mut f = file("{\"\u{e9}\":1}", 0);
        f[10] = 0xff;
        format_error(&f, "not valid UTF-8");
    }

    #[test]
    fn entry_structure() {
        format_error(&file(r#"{"t":5}"#, 0), "tensor \"t\" is described by a number");
        format_error(&file(r#"{"t":{"shape":[],"data_offsets":[0,4]}}"#, 4), "tensor \"t\" has no \"dtype\"");
        format_error(&file(r#"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#, 4), "no \"shape\"");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[]}}"#, 4), "no \"data_offsets\"");
        format_error(&file(r#"{"t":{"dtype":7,"shape":[],"data_offsets":[0,4]}}"#, 4), "a number instead of a string");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[],"data_offsets":[0]}}"#, 4), "not an array [begin, end]");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[],"data_offsets":[-1,4]}}"#, 4), "non-negative integers");
        format_error(&file(r#"{"__metadata__":{"k":1}}"#, 0), "metadata values must be strings");
        format_error(&file(r#"{"__metadata__":[]}"#, 0), "__metadata__ is an array");
    }

    #[test]
    fn duplicate_names() {
        let h = r#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#;
        format_error(&file(h, 2), "\"t\" appears more than once");
    }

    #[test]
    fn unknown_dtype() {
        format_error(&file(r#"{"t":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, 16), "unknown dtype \"F128\"");
    }

    #[test]
    fn negative_and_fractional_shape() {
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,0]}}"#, 0), "shape[1] = -1");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}"#, 0), "shape[0] = 1.5");
    }

    #[test]
    fn overflowing_shape() {
        let h = r#"{"t":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#;
        format_error(&file(h, 0), "overflows");
    }

    #[test]
    fn wrong_offsets() {
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8), "begin is after its end");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4), "data section is only 4 bytes");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 12), "unused trailing bytes");
        format_error(&file(r#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8), "does not allow gaps");
        let huge = format!(r#"{{"t":{{"dtype":"F32","shape":[1],"data_offsets":[0,{}]}}}}"#, u64::MAX);
        format_error(&file(&huge, 4), "data section is only 4 bytes");
    }

    #[test]
    fn shape_byte_mismatch() {
        format_error(
            &file(r#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8),
            "covering 8 bytes, but shape [3] of F32 needs 12 bytes",
        );
        format_error(&file(r#"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, 2), "whole number of bytes");
    }

    #[test]
    fn overlap() {
        let h = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
        format_error(&file(h, 8), "overlaps tensor \"a\"");
    }
}
