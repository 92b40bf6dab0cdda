//! ModuleCore: what every module holds (its type name, training flag and the ordered registry of
//! parameters, buffers and named children), libtorch's register_parameter / register_module idea.
//! Naming, train, depth, the parameter walk and the state_dict are derived from it once (walk.rs),
//! not written per container. The registry sits behind a lock because C programs register into
//! custom modules at run time through shared handles.

use super::{Module, MAX_DEPTH};
use crate::autograd::mode;
use crate::error::{bail, Result};
use crate::storage::DType;
use crate::tensor::Tensor;
use parking_lot::{Mutex, RwLock};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

/// A module's identity and registry: a cheap shared handle (modules hold one each).
pub struct ModuleCore(Arc<Inner>);

struct Inner {
    type_name: Cow<'static, str>,
    /// Modules start in training mode, as in PyTorch.
    training: AtomicBool,
    registry: RwLock<Registry>,
}

#[derive(Default)]
struct Registry {
    params: Vec<(String, Tensor)>,
    /// (name, tensor, persistent): non-persistent buffers stay out of the state_dict.
    buffers: Vec<(String, Tensor, bool)>,
    children: Vec<(String, Arc<dyn Module>)>,
    /// The modules this one is registered in. Weak, so a parent going away is seen (the depth
    /// limit then counts only the parents that are left) and no reference cycle keeps it alive.
    parents: Vec<Weak<Inner>>,
}

/// Registrations of children change the module graph; they take this lock so the cycle and depth
/// checks see a graph no other registration changes under them. Nothing else takes it.
static STRUCTURE: Mutex<()> = Mutex::new(());

/// What a name in a module refers to.
pub enum Named {
    /// A parameter (trained, in `state_dict`).
    Parameter(Tensor),
    /// A buffer (not trained, in `state_dict`).
    Buffer(Tensor),
    /// A child module.
    Module(Arc<dyn Module>),
}

impl ModuleCore {
    /// An empty registry for a module of PyTorch class `type_name`, in training mode.
    pub fn new(type_name: impl Into<Cow<'static, str>>) -> ModuleCore {
        ModuleCore(Arc::new(Inner {
            type_name: type_name.into(),
            training: AtomicBool::new(true),
            registry: RwLock::new(Registry::default()),
        }))
    }

    /// PyTorch's class name for built-ins (`Linear`, `Sequential`, ...), the caller's for others.
    pub fn type_name(&self) -> &str {
        &self.0.type_name
    }

    /// This module's own training flag.
    pub fn is_training(&self) -> bool {
        self.0.training.load(Ordering::Relaxed)
    }

    /// This module's own flag; `walk::train` sets it on every module below too.
    pub fn set_training(&self, training: bool) {
        self.0.training.store(training, Ordering::Relaxed);
    }

    /// Whether two cores are the same module's.
    pub fn same(&self, other: &ModuleCore) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An address identifying the module, for visited sets.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// Parameters in registration order.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        self.0.registry.read().params.clone()
    }

    /// Buffers in registration order, with their persistent flag.
    pub fn buffers(&self) -> Vec<(String, Tensor, bool)> {
        self.0.registry.read().buffers.clone()
    }

    /// Children in registration order.
    pub fn children(&self) -> Vec<(String, Arc<dyn Module>)> {
        self.0.registry.read().children.clone()
    }

    /// What `name` (one part, no '.') refers to in this module.
    pub fn get(&self, name: &str) -> Option<Named> {
        let r = self.0.registry.read();
        if let Some((_, t)) = r.params.iter().find(|(n, _)| n == name) {
            return Some(Named::Parameter(t.clone()));
        }
        if let Some((_, t, _)) = r.buffers.iter().find(|(n, _, _)| n == name) {
            return Some(Named::Buffer(t.clone()));
        }
        r.children.iter().find(|(n, _)| n == name).map(|(_, m)| Named::Module(m.clone()))
    }

    /// Adds a parameter: an F32 leaf whose requires_grad becomes `requires_grad`, under
    /// rt_tensor_set_requires_grad's rules (I5). Checked before anything changes.
    pub fn register_parameter(&self, name: &str, t: Tensor, requires_grad: bool) -> Result<()> {
        let mut r = self.0.registry.write();
        self.check_name(&r, name)?;
        if t.dtype() != DType::F32 {
            bail!(Dtype, "parameter \"{name}\" must be an F32 tensor, but this is a {}; convert it with rt_tensor_to", t.describe());
        }
        if requires_grad && t.is_inference() && !mode::is_inference_enabled() {
            bail!(
                InferenceMode,
                "parameter \"{name}\" is an inference tensor, which cannot require grad outside inference mode (rule I5); register a normal copy (rt_tensor_clone outside inference mode) or pass requires_grad = false"
            );
        }
        if let Some(f) = t.grad_fn() {
            bail!(
                Autograd,
                "parameter \"{name}\" is not a leaf (it was computed by {}), and a parameter must be one, as in PyTorch; register rt_tensor_detach of it",
                f.name()
            );
        }
        t.mark_requires_grad(requires_grad);
        r.params.push((name.to_string(), t));
        Ok(())
    }

    /// Adds a buffer of any dtype; a non-persistent one is reachable by path but left out of the
    /// state_dict.
    pub fn register_buffer(&self, name: &str, t: Tensor, persistent: bool) -> Result<()> {
        let mut r = self.0.registry.write();
        self.check_name(&r, name)?;
        r.buffers.push((name.to_string(), t, persistent));
        Ok(())
    }

    /// Adds a child module. Refuses a cycle (the child is this module or one of its ancestors)
    /// and a graph deeper than MAX_DEPTH modules along any chain through the new edge.
    pub fn register_module(&self, name: &str, child: Arc<dyn Module>) -> Result<()> {
        let _structure = STRUCTURE.lock();
        self.check_name(&self.0.registry.read(), name)?;
        let above = levels_above(&self.0, child.core(), &mut HashMap::new())
            .ok_or_else(|| crate::error::err!(InvalidArgument, "{}", self.cycle_message(name, child.core())))?;
        let below = height(&*child, &mut HashMap::new());
        if above + below > MAX_DEPTH {
            bail!(
                InvalidArgument,
                "child \"{name}\" is {below} modules deep and this {} sits {above} deep, so the result would nest {} modules, past the limit of {MAX_DEPTH} (RT_MAX_MODULE_DEPTH)",
                self.type_name(),
                above + below
            );
        }
        // Lock order parent then child; only registrations (under STRUCTURE) hold two at once.
        let mut r = self.0.registry.write();
        self.check_name(&r, name)?;
        let mut c = child.core().0.registry.write();
        c.parents.retain(|p| p.strong_count() > 0);
        c.parents.push(Arc::downgrade(&self.0));
        drop(c);
        r.children.push((name.to_string(), child));
        Ok(())
    }

    fn cycle_message(&self, name: &str, child: &ModuleCore) -> String {
        if self.same(child) {
            format!(
                "registering this {} into itself as \"{name}\" would make a cycle; modules must form a tree (or a DAG when shared)",
                self.type_name()
            )
        } else {
            format!(
                "the {} registered as \"{name}\" contains this {} already, so registering it would make a cycle",
                child.type_name(),
                self.type_name()
            )
        }
    }

    fn check_name(&self, r: &Registry, name: &str) -> Result<()> {
        if name.is_empty() {
            bail!(InvalidArgument, "the name is empty; pass a non-empty name without '.'");
        }
        if name.contains('.') {
            bail!(InvalidArgument, "the name \"{name}\" contains '.', which separates the parts of a path; pass a name without '.'");
        }
        let clash = if r.params.iter().any(|(n, _)| n == name) {
            Some("a parameter")
        } else if r.buffers.iter().any(|(n, _, _)| n == name) {
            Some("a buffer")
        } else if r.children.iter().any(|(n, _)| n == name) {
            Some("a child module")
        } else {
            None
        };
        if let Some(what) = clash {
            bail!(
                InvalidArgument,
                "the name \"{name}\" is already {what} of this {} module; names are unique across parameters, buffers and children",
                self.type_name()
            );
        }
        Ok(())
    }
}

/// Modules on the longest chain of live parents down to `m`, `m` included; None when `target`
/// is `m` or one of its ancestors (registering it below `m` would close a cycle).
fn levels_above(m: &Arc<Inner>, target: &ModuleCore, memo: &mut HashMap<usize, Option<usize>>) -> Option<usize> {
    if Arc::ptr_eq(m, &target.0) {
        return None;
    }
    let key = Arc::as_ptr(m) as usize;
    if let Some(&v) = memo.get(&key) {
        return v;
    }
    let parents: Vec<Arc<Inner>> = m.registry.read().parents.iter().filter_map(Weak::upgrade).collect();
    let mut most = 0;
    let mut result = Some(0);
    for p in &parents {
        match levels_above(p, target, memo) {
            Some(v) => most = most.max(v),
            None => {
                result = None;
                break;
            }
        }
    }
    let result = result.map(|_| most + 1);
    memo.insert(key, result);
    result
}

/// Modules on the longest chain from `m` down, `m` included (1 for a module without children).
pub(crate) fn height(m: &dyn Module, memo: &mut HashMap<usize, usize>) -> usize {
    let key = m.core().id();
    if let Some(&h) = memo.get(&key) {
        return h;
    }
    let h = 1 + m.core().children().iter().map(|(_, c)| height(&**c, memo)).max().unwrap_or(0);
    memo.insert(key, h);
    h
}
