//! Graph nodes: a derivative (the `Backward` of one op), the tensors it saved, and edges to the
//! nodes or leaves of its inputs.

use crate::error::{bail, Result};
use crate::tensor::{Tensor, TensorImpl};
use parking_lot::Mutex;
use std::sync::{Arc, Weak};

/// The derivative of one op: maps the gradient of its output to gradients of its inputs
/// (one entry per input, None where the input gets no gradient).
pub trait Backward: Send + Sync {
    fn name(&self) -> &'static str;
    /// `saved` holds what the op saved, in its order (None where it saved nothing).
    fn apply(&self, grad: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>>;
}

/// The saved tensor at `i`; the op saved it whenever the gradient that needs it is wanted.
pub fn saved_at(saved: &[Option<Tensor>], i: usize) -> &Tensor {
    saved[i].as_ref().expect("a derivative asked for a tensor its op did not save")
}

/// A tensor kept for backward with the version it had when saved (API.md I8).
pub struct SavedTensor {
    tensor: Tensor,
    version: u64,
}

impl SavedTensor {
    /// Saves a detached alias of `t`; inference tensors have no version counter and cannot be
    /// saved (I7).
    pub fn new(t: &Tensor, op: &str) -> Result<SavedTensor> {
        match t.version() {
            Some(version) => Ok(SavedTensor { tensor: t.detached_alias(), version }),
            None => bail!(InferenceMode, "{op} needs the inference {} saved for backward, but inference tensors cannot be saved for backward outside inference mode (rule I7); make a normal copy with rt_tensor_clone outside inference mode, or run this op inside inference mode", t.describe()),
        }
    }
}

pub enum Edge {
    Node(Arc<Node>),
    /// Held weakly: a leaf can hold the graph (an in-place op on a tensor whose view is the leaf
    /// gives the tensor this graph, and the view holds the tensor), and a strong edge would make
    /// that a cycle never freed. A leaf nobody else holds has no gradient anyone could read.
    Leaf(Weak<TensorImpl>),
}

pub struct Node {
    backward: Box<dyn Backward>,
    saved: Mutex<Option<Vec<Option<SavedTensor>>>>,
    pub(crate) edges: Vec<Option<Edge>>,
    /// The non-leaf output whose .grad is kept (rt_tensor_retain_grad); weak, so no cycle.
    pub(crate) retained: Mutex<Option<Weak<TensorImpl>>>,
}

impl Node {
    pub fn new(backward: Box<dyn Backward>, saved: Vec<Option<SavedTensor>>, edges: Vec<Option<Edge>>) -> Node {
        Node { backward, saved: Mutex::new(Some(saved)), edges, retained: Mutex::new(None) }
    }

    pub fn name(&self) -> &'static str {
        self.backward.name()
    }

    /// Fails when the graph was freed by an earlier backward or a saved tensor was modified.
    pub fn check_saved(&self) -> Result<()> {
        let saved = self.saved.lock();
        let Some(saved) = saved.as_ref() else {
            bail!(Autograd, "the graph through {} was already freed by an earlier backward; pass retain_graph = true to the first backward to call backward again", self.name());
        };
        for s in saved.iter().flatten() {
            let now = s.tensor.version().unwrap_or(s.version);
            if now != s.version {
                bail!(Autograd, "a {} saved by {} for backward was modified in place: it was saved at version {} and is now at version {}; clone it before modifying it, or modify it before the op", s.tensor.describe(), self.name(), s.version, now);
            }
        }
        Ok(())
    }

    pub fn saved_tensors(&self) -> Result<Vec<Option<Tensor>>> {
        self.check_saved()?;
        Ok(self.saved.lock().as_ref().map(|v| v.iter().map(|s| s.as_ref().map(|s| s.tensor.clone())).collect()).unwrap_or_default())
    }

    pub fn apply(&self, grad: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let saved = self.saved_tensors()?;
        self.backward.apply(grad, &saved)
    }

    pub fn release(&self) {
        *self.saved.lock() = None;
    }
}

impl Drop for Node {
    /// Frees long chains iteratively, so a deep graph cannot overflow the stack.
    fn drop(&mut self) {
        let mut stack: Vec<Arc<Node>> = take_child_nodes(&mut self.edges);
        while let Some(node) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(node) {
                stack.extend(take_child_nodes(&mut inner.edges));
            }
        }
    }
}

fn take_child_nodes(edges: &mut Vec<Option<Edge>>) -> Vec<Arc<Node>> {
    edges
        .drain(..)
        .filter_map(|e| match e {
            Some(Edge::Node(n)) => Some(n),
            _ => None,
        })
        .collect()
}
