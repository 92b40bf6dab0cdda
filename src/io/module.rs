//! Loading a module's state from a safetensors file and saving it to one (API.md section 4).

use super::header::Entry;
use super::safetensors::{self, SafeTensors, Values};
use crate::error::{bail, Error, Result};
use crate::nn::{state_dict, Module};
use crate::ops::raw;
use crate::shape::fmt_shape;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// At most this many keys are listed in a message.
const LISTED: usize = 8;

fn list(keys: &[String]) -> String {
    let shown: Vec<&str> = keys.iter().take(LISTED).map(String::as_str).collect();
    match keys.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Copies the file's tensors into the module's own tensors, all or nothing: every key, dtype,
/// shape and in-place rule is checked and every value converted before the first write.
/// `strict` rejects keys the file lacks and keys the module lacks (RT_ERR_INVALID_ARGUMENT);
/// otherwise the keys both have are loaded. Dtypes convert as `SafeTensors::get` does and must
/// then match (RT_ERR_DTYPE); shapes must match (RT_ERR_SHAPE). The copy acts as an in-place op
/// under no_grad: nothing is recorded, requires_grad and gradients are kept, versions are bumped.
pub fn load(m: &dyn Module, path: &Path, strict: bool) -> Result<()> {
    load_mapped(m, path, strict, &mut |k| Ok(Some(k.to_string())))
}

/// Maps a file key to the module's name for it; `None` skips the key; an error aborts the load.
pub type KeyMap<'a> = dyn FnMut(&str) -> Result<Option<String>> + 'a;

/// `load` with each file key renamed by `map` first (a checkpoint's `bert.` prefix, old names).
/// Two file keys mapped to one module name are RT_ERR_INVALID_ARGUMENT. A tensor the module holds
/// under several names (weight tying) counts as loaded under `strict` when any of its names is.
pub fn load_mapped(m: &dyn Module, path: &Path, strict: bool, map: &mut KeyMap) -> Result<()> {
    let file = SafeTensors::open(path)?;
    let sd = state_dict(m);
    let mut mapped: HashMap<String, &Entry> = HashMap::new();
    for e in file.entries() {
        let Some(name) = map(&e.name)? else { continue };
        if let Some(first) = mapped.get(&name) {
            bail!(
                InvalidArgument,
                "file keys \"{}\" and \"{}\" both map to \"{name}\"; map each module name from one file key (skip the others)",
                first.name,
                e.name
            );
        }
        mapped.insert(name, e);
    }
    if strict {
        let loaded: HashSet<usize> = sd.iter().filter(|(k, _)| mapped.contains_key(k)).map(|(_, t)| identity(t)).collect();
        let ours: HashSet<&str> = sd.iter().map(|(k, _)| k.as_str()).collect();
        let missing: Vec<String> = sd.iter().filter(|(_, t)| !loaded.contains(&identity(t))).map(|(k, _)| format!("\"{k}\"")).collect();
        let mut unexpected: Vec<(&str, String)> =
            mapped.iter().filter(|(k, _)| !ours.contains(k.as_str())).map(|(k, e)| (e.name.as_str(), label(k, e))).collect();
        unexpected.sort();
        let unexpected: Vec<String> = unexpected.into_iter().map(|(_, l)| l).collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("missing key(s) {}", list(&missing)));
            }
            if !unexpected.is_empty() {
                problems.push(format!("unexpected key(s) {}", list(&unexpected)));
            }
            bail!(
                InvalidArgument,
                "strict load of \"{}\": {}; pass strict = false to load only the keys both have",
                path.display(),
                problems.join("; ")
            );
        }
    }
    let pairs: Vec<_> = sd.iter().filter_map(|(k, t)| mapped.get(k).map(|e| (label(k, e), t, *e))).collect();
    for (k, t, e) in &pairs {
        let loaded = e.dtype.loads_as().map_err(|err| Error::new(err.code, format!("key {k}: {}", err.message)))?;
        if loaded != t.dtype() {
            bail!(
                Dtype,
                "key {k} is {} in the file, which loads as {}, but the module's tensor is {}",
                e.dtype.name(),
                loaded.name(),
                t.dtype().name()
            );
        }
    }
    for (k, t, e) in &pairs {
        if e.shape.as_slice() != t.shape() {
            bail!(Shape, "key {k}: the module expects shape {} but the file has {}", fmt_shape(t.shape()), fmt_shape(&e.shape));
        }
    }
    for (k, t, _) in &pairs {
        crate::ops::inplace::check_inplace(t, &format!("key {k}"), false)?;
    }
    let staged = pairs.iter().map(|(_, _, e)| file.values(e)).collect::<Result<Vec<_>>>()?;
    for ((_, t, _), values) in pairs.iter().zip(staged) {
        match values {
            Values::F32(v) => raw::write_row_major(t, &v),
            Values::I64(v) => raw::write_row_major(t, &v),
            Values::Bool(v) => raw::write_row_major(t, &v),
        }
        t.storage().bump_version();
    }
    Ok(())
}

/// Identity of a tensor (tied names share it).
fn identity(t: &crate::Tensor) -> usize {
    std::sync::Arc::as_ptr(&t.0) as usize
}

/// A module name as messages show it, with the file key it came from when that differs.
fn label(name: &str, e: &Entry) -> String {
    if e.name == name {
        format!("\"{name}\"")
    } else {
        format!("\"{name}\" (file key \"{}\")", e.name)
    }
}

/// Writes the module's state_dict (parameters and buffers under their PyTorch names).
///
/// ```
/// use infer::io::{module, SafeTensors};
/// use infer::nn::{Linear, Module};
/// use infer::{creation, rng};
///
/// rng::manual_seed(1);
/// let path = std::env::temp_dir().join(format!("infer-doctest-{}.safetensors", std::process::id()));
/// let trained = Linear::new(3, 2, true)?;
/// module::save(&trained, &path)?;
///
/// // The file holds the state_dict under PyTorch's names ...
/// let file = SafeTensors::open(&path)?;
/// assert_eq!(file.get("weight")?.shape(), &[2, 3]);
/// // ... and loads strictly into a fresh model of the same shape.
/// let fresh = Linear::new(3, 2, true)?;
/// module::load(&fresh, &path, true)?;
/// std::fs::remove_file(&path).ok();
/// let x = creation::randn(&[4, 3])?;
/// assert_eq!(fresh.forward(&x)?.to_vec_f32(), trained.forward(&x)?.to_vec_f32());
/// # Ok::<(), infer::Error>(())
/// ```
pub fn save(m: &dyn Module, path: &Path) -> Result<()> {
    let sd = state_dict(m);
    let items: Vec<(&str, &crate::Tensor)> = sd.iter().map(|(k, t)| (k.as_str(), t)).collect();
    safetensors::save(path, &items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::creation::from_slice;
    use crate::nn::ModuleCore;
    use crate::storage::Element;
    use crate::Tensor;

    /// A module holding a BOOL buffer beside another tensor (as a custom module's mask would).
    struct Masked {
        core: ModuleCore,
        weight: Tensor,
        mask: Tensor,
    }

    impl Module for Masked {
        fn core(&self) -> &ModuleCore {
            &self.core
        }
        fn forward_n(&self, inputs: &[Option<Tensor>]) -> Result<Tensor> {
            Ok(crate::nn::one_input(self, inputs)?.clone())
        }
    }

    /// `weight` and `mask` registered as buffers (of any dtype), in that order.
    fn module<W: Element, M: Element>(w: &[W], mask: &[M]) -> Masked {
        let (weight, mask) = (from_slice(w, &[w.len()]).unwrap(), from_slice(mask, &[mask.len()]).unwrap());
        let core = ModuleCore::new("Masked");
        core.register_buffer("weight", weight.clone(), true).unwrap();
        core.register_buffer("mask", mask.clone(), true).unwrap();
        Masked { core, weight, mask }
    }

    #[test]
    fn bool_buffers_save_and_load_as_bool() {
        let dir = std::env::temp_dir().join(format!("infer-module-bool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.safetensors");
        save(&module(&[1.0f32, 2.0], &[1u8, 0, 1]), &path).unwrap();
        let target = module(&[0.0f32, 0.0], &[0u8, 1, 0]);
        load(&target, &path, true).unwrap();
        assert_eq!(target.mask.to_vec_i64(), vec![1, 0, 1]);
        assert_eq!(target.mask.version(), Some(1));
        // A BOOL key does not load into an F32 tensor (nor the reverse), and changes nothing.
        let swapped = module(&[0u8, 0], &[0f32; 3]);
        let e = load(&swapped, &path, true).unwrap_err();
        assert_eq!(e.code, crate::Code::Dtype);
        assert!(e.message.contains("BOOL"), "{}", e.message);
        assert_eq!(swapped.weight.version(), Some(0));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
