//! Everything derived from the registries (core.rs): state_dict names and order, the parameter
//! list, the module list, train, and lookups by dotted path. Each walk copies a module's entries
//! out of its lock before going down, so no lock is held while a child is visited.

use super::core::Named;
use super::Module;
use crate::error::{bail, Result};
use crate::tensor::Tensor;
use std::collections::HashSet;
use std::sync::Arc;

/// The state_dict: PyTorch's names and order (own parameters, then own persistent buffers, each
/// in registration order, then each child's under `name.`). A tensor shared under several names
/// (weight tying) appears under each, as in PyTorch.
pub fn state_dict(m: &dyn Module) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    collect(m, &mut String::new(), &mut out);
    out
}

fn collect(m: &dyn Module, prefix: &mut String, out: &mut Vec<(String, Tensor)>) {
    let core = m.core();
    for (name, t) in core.parameters() {
        out.push((format!("{prefix}{name}"), t));
    }
    for (name, t, persistent) in core.buffers() {
        if persistent {
            out.push((format!("{prefix}{name}"), t));
        }
    }
    for (name, child) in core.children() {
        let len = prefix.len();
        prefix.push_str(&name);
        prefix.push('.');
        collect(&*child, prefix, out);
        prefix.truncate(len);
    }
}

/// Every parameter below `m` once, however often it is registered (by tensor identity, as
/// PyTorch's `parameters()`), in state_dict order.
pub fn parameters(m: &dyn Module) -> Vec<Tensor> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for_each_module(m, &mut |sub| {
        for (_, t) in sub.core().parameters() {
            if seen.insert(Arc::as_ptr(&t.0) as usize) {
                out.push(t);
            }
        }
    });
    out
}

/// Calls `f` on `m` and every module below it, each once (a module registered under several
/// names is visited once, as PyTorch's `modules()`), parents before children.
pub fn for_each_module(m: &dyn Module, f: &mut dyn FnMut(&dyn Module)) {
    fn go(m: &dyn Module, seen: &mut HashSet<usize>, f: &mut dyn FnMut(&dyn Module)) {
        if !seen.insert(m.core().id()) {
            return;
        }
        f(m);
        for (_, c) in m.core().children() {
            go(&*c, seen, f);
        }
    }
    go(m, &mut HashSet::new(), f)
}

/// Every module below `m` with its dotted path, each once, `m` itself first as "" (PyTorch's
/// `named_modules()`).
pub fn named_modules(m: &Arc<dyn Module>) -> Vec<(String, Arc<dyn Module>)> {
    fn go(m: &Arc<dyn Module>, path: String, seen: &mut HashSet<usize>, out: &mut Vec<(String, Arc<dyn Module>)>) {
        if !seen.insert(m.core().id()) {
            return;
        }
        out.push((path.clone(), m.clone()));
        for (name, c) in m.core().children() {
            let sub = if path.is_empty() { name } else { format!("{path}.{name}") };
            go(&c, sub, seen, out);
        }
    }
    let mut out = Vec::new();
    go(m, String::new(), &mut HashSet::new(), &mut out);
    out
}

/// Training (true) or eval (false) mode for `m` and every module below it.
pub fn train(m: &dyn Module, training: bool) {
    for_each_module(m, &mut |sub| sub.core().set_training(training));
}

/// The module at dotted `path` below `m`; "" is `m` itself. A path naming nothing is
/// RT_ERR_INVALID_ARGUMENT naming its first missing part.
pub fn get_module(m: &Arc<dyn Module>, path: &str) -> Result<Arc<dyn Module>> {
    if path.is_empty() {
        return Ok(m.clone());
    }
    match resolve(m, path, "module")? {
        Named::Module(c) => Ok(c),
        _ => bail!(InvalidArgument, "\"{path}\" names a tensor, not a module; pass a module's path"),
    }
}

/// The parameter or buffer (persistent or not) at dotted `path` below `m`.
pub fn get_tensor(m: &Arc<dyn Module>, path: &str) -> Result<Tensor> {
    match resolve(m, path, "tensor")? {
        Named::Parameter(t) | Named::Buffer(t) => Ok(t),
        Named::Module(_) => bail!(InvalidArgument, "\"{path}\" names a module, not a tensor; list tensor names with rt_module_tensor_name"),
    }
}

/// What `path` names: every part but the last must name a child module.
fn resolve(m: &Arc<dyn Module>, path: &str, what: &str) -> Result<Named> {
    let mut at = m.clone();
    let mut walked = 0;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let found = at.core().get(part);
        match (found, parts.peek().is_none()) {
            (Some(Named::Module(c)), false) => at = c,
            (Some(named), true) => return Ok(named),
            (Some(_), false) => {
                bail!(InvalidArgument, "no {what} at \"{path}\": \"{}\" is a tensor, which has no parts", &path[..walked + part.len()])
            }
            (None, _) => {
                let whose = if walked == 0 {
                    format!("the {}", at.core().type_name())
                } else {
                    format!("the {} at \"{}\"", at.core().type_name(), &path[..walked - 1])
                };
                bail!(
                    InvalidArgument,
                    "no {what} at \"{path}\": {whose} has nothing named \"{part}\"; list names with rt_module_tensor_name"
                )
            }
        }
        walked += part.len() + 1;
    }
    unreachable!("split yields at least one part")
}
