//! Reading and writing safetensors files.
//!
//! A file is read whole into memory, never mapped: a mapped file that someone else truncates
//! raises SIGBUS in the host process. Its header is validated completely (io/header.rs) before
//! any tensor is made. Names are listed in sorted (byte-wise) order, whatever order the file
//! stores them in, so an index means the same tensor for every writer of the same state.

use super::dtype::{self, FileDtype};
use super::header::{self, Entry};
use crate::autograd::mode;
use crate::error::{bail, err, Error, Result};
use crate::ops::raw;
use crate::storage::DType;
use crate::tensor::Tensor;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// An opened, validated file.
pub struct SafeTensors {
    bytes: Vec<u8>,
    data_start: usize,
    entries: Vec<Entry>,
}

/// Converted elements, ready to become a tensor or to be copied into one.
pub enum Values {
    /// F32 (and F64, F16, BF16 and the F8 types, converted to it).
    F32(Vec<f32>),
    /// I64 (and the other integer types converted to it).
    I64(Vec<i64>),
    /// BOOL, one byte per element.
    Bool(Vec<u8>),
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    err!(Io, "cannot {what} \"{}\": {e}", path.display())
}

impl SafeTensors {
    /// Reads and validates the file at `path`: RT_ERR_IO when it cannot be read, RT_ERR_FORMAT
    /// when it is not a valid safetensors file.
    pub fn open(path: &Path) -> Result<SafeTensors> {
        let mut f = File::open(path).map_err(|e| io_error("open", path, e))?;
        let len = f.metadata().map_err(|e| io_error("read", path, e))?.len();
        let mut bytes = Vec::new();
        usize::try_from(len)
            .ok()
            .and_then(|n| bytes.try_reserve_exact(n).ok())
            .ok_or_else(|| err!(OutOfMemory, "cannot allocate {len} bytes to read \"{}\"", path.display()))?;
        // Bounded by the size seen at open: a file growing meanwhile cannot make us reallocate.
        (&mut f).take(len).read_to_end(&mut bytes).map_err(|e| io_error("read", path, e))?;
        Self::from_bytes(bytes)
            .map_err(|e| Error::new(e.code, format!("\"{}\" is not a valid safetensors file: {}", path.display(), e.message)))
    }

    /// Validates a whole file's bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<SafeTensors> {
        let h = header::parse(&bytes)?;
        Ok(SafeTensors { bytes, data_start: h.data_start, entries: h.entries })
    }

    /// Number of tensors in the file.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in sorted name order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry called `name`, if there is one.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.binary_search_by(|e| e.name.as_str().cmp(name)).ok().map(|i| &self.entries[i])
    }

    /// The tensor's elements converted to the dtype it loads as (F32, I64 or BOOL).
    pub fn values(&self, e: &Entry) -> Result<Values> {
        let bytes = &self.bytes[self.data_start + e.begin..self.data_start + e.end];
        if e.shape.len() > crate::ffi::RT_MAX_DIMS {
            bail!(
                Unsupported,
                "tensor \"{}\" has {} dimensions, more than the {} supported",
                e.name,
                e.shape.len(),
                crate::ffi::RT_MAX_DIMS
            );
        }
        Ok(match e.dtype.loads_as().map_err(|err| Error::new(err.code, format!("tensor \"{}\": {}", e.name, err.message)))? {
            DType::F32 => Values::F32(dtype::to_f32(e.dtype, bytes)?),
            DType::I64 => Values::I64(dtype::to_i64(e.dtype, bytes, &e.name)?),
            DType::Bool => Values::Bool(dtype::to_bool(bytes)?),
        })
    }

    /// A new tensor (normal, or an inference tensor inside inference mode) holding `name`.
    /// An unknown name is RT_ERR_INVALID_ARGUMENT.
    pub fn get(&self, name: &str) -> Result<Tensor> {
        let Some(e) = self.entry(name) else {
            bail!(InvalidArgument, "the file has no tensor named \"{name}\"; list its {} names with rt_safetensors_name", self.len());
        };
        let inference = mode::is_inference_enabled();
        Ok(match self.values(e)? {
            Values::F32(v) => raw::from_vec(v, &e.shape, inference),
            Values::I64(v) => raw::from_vec(v, &e.shape, inference),
            Values::Bool(v) => raw::from_vec(v, &e.shape, inference),
        })
    }
}

/// Writes `tensors` to `path` as a safetensors file: F32, I64 and BOOL elements row-major, a header
/// padded with spaces to a multiple of 8 bytes, data ordered by element size then name (so every
/// tensor is aligned to its element size, as the reference writer does). The file is written
/// beside `path` under a temporary name and renamed over it, so `path` is either the old file or
/// the complete new one. Duplicate or reserved names are RT_ERR_INVALID_ARGUMENT; I/O failures
/// RT_ERR_IO.
pub fn save(path: &Path, tensors: &[(&str, &Tensor)]) -> Result<()> {
    let mut seen = HashSet::new();
    for (name, _) in tensors {
        if *name == "__metadata__" {
            bail!(InvalidArgument, "\"__metadata__\" is reserved by the format and cannot name a tensor");
        }
        if !seen.insert(*name) {
            bail!(InvalidArgument, "the name \"{name}\" is given to more than one tensor; names must be unique");
        }
    }
    let mut order: Vec<&(&str, &Tensor)> = tensors.iter().collect();
    order.sort_by(|a, b| b.1.dtype().size().cmp(&a.1.dtype().size()).then(a.0.cmp(b.0)));
    let mut header = serde_json::Map::new();
    let mut pos = 0usize;
    for (name, t) in &order {
        let end = t
            .numel()
            .checked_mul(t.dtype().size())
            .and_then(|n| n.checked_add(pos))
            .ok_or_else(|| err!(OutOfMemory, "the tensors are too large to save"))?;
        header.insert(
            name.to_string(),
            serde_json::json!({ "dtype": FileDtype::from(t.dtype()).name(), "shape": t.shape(), "data_offsets": [pos, end] }),
        );
        pos = end;
    }
    let mut text = serde_json::Value::Object(header).to_string();
    text.extend(std::iter::repeat_n(' ', (8 - text.len() % 8) % 8));
    let tmp = temp_path(path);
    let written = write_file(&tmp, &text, &order);
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path).map_err(|e| io_error("rename the temporary file to", path, e)));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

impl From<DType> for FileDtype {
    fn from(d: DType) -> FileDtype {
        match d {
            DType::F32 => FileDtype::F32,
            DType::I64 => FileDtype::I64,
            DType::Bool => FileDtype::Bool,
        }
    }
}

/// A name beside `path` that no other writer uses: `.NAME.tmp-PID-N`.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{file}.tmp-{}-{n}", std::process::id()))
}

fn write_file(tmp: &Path, header: &str, order: &[&(&str, &Tensor)]) -> Result<()> {
    let f = File::options().write(true).create_new(true).open(tmp).map_err(|e| io_error("create", tmp, e))?;
    let mut w = BufWriter::new(f);
    let io = |e| io_error("write", tmp, e);
    w.write_all(&(header.len() as u64).to_le_bytes()).map_err(io)?;
    w.write_all(header.as_bytes()).map_err(io)?;
    for (_, t) in order {
        match t.dtype() {
            DType::F32 => t.try_data::<f32>()?.iter().try_for_each(|v| w.write_all(&v.to_le_bytes())).map_err(io)?,
            DType::I64 => t.try_data::<i64>()?.iter().try_for_each(|v| w.write_all(&v.to_le_bytes())).map_err(io)?,
            // A blob may hold other nonzero bytes: the file gets 0 or 1, as the format requires.
            DType::Bool => t.try_data::<u8>()?.iter().try_for_each(|&v| w.write_all(&[(v != 0) as u8])).map_err(io)?,
        }
    }
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creation::from_slice;

    #[test]
    fn save_then_open_round_trips_with_aligned_data() {
        let dir = std::env::temp_dir().join(format!("infer-st-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let a = from_slice(&[1.5f32, -2.0, 3.25], &[3]).unwrap();
        let b = from_slice(&[7i64, -9], &[2, 1]).unwrap();
        save(&path, &[("z", &a), ("b", &b)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()) % 8, 0);
        let f = SafeTensors::open(&path).unwrap();
        let names: Vec<_> = f.entries().iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["b", "z"]);
        // I64 first (larger elements), then F32.
        assert_eq!((f.entry("b").unwrap().begin, f.entry("z").unwrap().begin), (0, 16));
        assert_eq!(f.get("z").unwrap().to_vec_f32(), vec![1.5, -2.0, 3.25]);
        assert_eq!(f.get("b").unwrap().to_vec_i64(), vec![7, -9]);
        assert_eq!(f.get("b").unwrap().shape(), &[2, 1]);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file is left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_and_reserved_names_are_refused() {
        let a = from_slice(&[1f32], &[1]).unwrap();
        let path = Path::new("/nonexistent-dir/x.safetensors");
        assert_eq!(save(path, &[("a", &a), ("a", &a)]).unwrap_err().code, crate::Code::InvalidArgument);
        assert_eq!(save(path, &[("__metadata__", &a)]).unwrap_err().code, crate::Code::InvalidArgument);
        assert_eq!(save(path, &[("a", &a)]).unwrap_err().code, crate::Code::Io);
    }
}
