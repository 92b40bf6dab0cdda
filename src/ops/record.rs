//! Recording: the one place that decides whether an op joins the graph. An op records when grad
//! mode is on, inference mode is off, and any input requires grad (API.md I4, I7, I11).

use crate::autograd::mode::{self, GradState};
use crate::autograd::node::{Backward, Edge, Node, SavedTensor};
use crate::error::{bail, Result};
use crate::tensor::CreationMeta;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::sync::Arc;

pub struct Recorder<'a> {
    pub state: GradState,
    inputs: SmallVec<[&'a Tensor; 3]>,
    active: bool,
}

impl<'a> Recorder<'a> {
    /// Reads the thread's grad state once for this op. Refuses views whose history went stale
    /// (their base took new history from an in-place op after the view was made), which would
    /// otherwise give wrong gradients.
    pub fn new(inputs: &[&'a Tensor]) -> Result<Self> {
        let state = mode::state();
        if state.recording() {
            for t in inputs {
                let Some(v) = t.view_info() else { continue };
                if !v.base_history_changed() {
                    continue;
                }
                if v.creation == CreationMeta::InferenceMode && v.base.requires_grad() {
                    bail!(InferenceMode, "a view made in inference mode was used with grad mode on after its base was modified in place outside inference mode; its history cannot be rebuilt (as PyTorch refuses too); take the view again outside inference mode");
                }
                bail!(Unsupported, "a view was used after its base was modified in place with grad mode on, so the view's history is stale; take the view again after the in-place op");
            }
        }
        let active = state.recording() && inputs.iter().any(|t| t.requires_grad());
        // Only a recording op reads its inputs back (needs_grad, finish).
        let inputs = if active { SmallVec::from_slice(inputs) } else { SmallVec::new() };
        Ok(Recorder { state, inputs, active })
    }

    /// Whether outputs are allocated as inference tensors (API.md I1).
    pub fn inference(&self) -> bool {
        self.state.inference
    }

    pub fn active(&self) -> bool {
        self.active
    }

    /// Whether input `i` will receive a gradient.
    pub fn needs_grad(&self, i: usize) -> bool {
        self.active && self.inputs[i].requires_grad()
    }

    /// Saves `t` for backward when recording; refuses inference tensors (I7) before any compute.
    pub fn save(&self, t: &Tensor, op: &str) -> Result<Option<SavedTensor>> {
        if self.active {
            SavedTensor::new(t, op).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Attaches the op's node to `out` when recording.
    pub fn finish(self, out: Tensor, backward: impl FnOnce() -> Box<dyn Backward>, saved: Vec<Option<SavedTensor>>) -> Tensor {
        if self.active {
            let edges = self.inputs.iter().map(|t| edge_of(t)).collect();
            let node = Node::new(backward(), saved, edges);
            out.meta().grad_fn = Some(Arc::new(node));
            out.mark_requires_grad(true);
        }
        out
    }
}

/// Where the gradient of `t` flows: its grad_fn, or `t` itself when it is a leaf that requires grad.
pub fn edge_of(t: &Tensor) -> Option<Edge> {
    if !t.requires_grad() {
        return None;
    }
    let m = t.meta();
    Some(match &m.grad_fn {
        Some(f) => Edge::Node(f.clone()),
        None => Edge::Leaf(Arc::downgrade(&t.0)),
    })
}
