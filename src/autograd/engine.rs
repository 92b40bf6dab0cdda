//! Backward: discovers the graph, checks every saved tensor before computing anything, runs the
//! derivatives in dependency order, then commits all gradients at once, so a failed backward
//! changes no gradient.

use super::mode;
use super::node::{Edge, Node};
use crate::compute::raw;
use crate::error::{bail, Result};
use crate::shape::fmt_shape;
use crate::storage::DType;
use crate::tensor::{Tensor, TensorImpl};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// Held by each commit from reading a leaf's old .grad to writing the sum: concurrent backward
/// passes on different graphs may share leaves (API.md), and an unserialized read-add-write loses
/// one of two concurrent updates. One lock for all commits keeps them all-or-nothing without
/// ordering per-leaf locks; forward passes never take it.
static COMMIT: Mutex<()> = Mutex::new(());

fn key(n: &Arc<Node>) -> usize {
    Arc::as_ptr(n) as usize
}

/// Computes the gradients of `root` (a one-element tensor, or any with `grad` of its shape)
/// with respect to the leaves that require grad and accumulates them into their `grad`, as
/// `torch.autograd.backward`; `retain_graph` keeps the saved tensors for another backward.
/// A failed backward changes no gradient.
///
/// ```
/// use infer::autograd::engine::backward;
/// use infer::{creation, ops};
///
/// // loss = mean(x^2): d loss / dx = 2x / n
/// let x = creation::from_slice(&[1f32, -2., 3., 4.], &[4])?;
/// x.set_requires_grad(true)?;
/// let loss = ops::mean(&ops::mul(&x, &x)?, &[], false)?;
/// backward(&loss, None, false)?;
/// assert_eq!(x.grad().unwrap().to_vec_f32(), vec![0.5, -1., 1.5, 2.]);
/// // The graph's saved tensors are freed: a second backward needs retain_graph.
/// assert!(backward(&loss, None, false).is_err());
/// # Ok::<(), infer::Error>(())
/// ```
pub fn backward(root: &Tensor, grad: Option<&Tensor>, retain_graph: bool) -> Result<()> {
    // Checks in the contract's order: dtype, shape, inference mode, autograd.
    match grad {
        None if root.numel() != 1 => {
            bail!(
                Shape,
                "grad can be omitted only for a tensor with one element, but this is a {}; pass a gradient of the same shape",
                root.describe()
            );
        }
        None => {}
        Some(g) => {
            g.expect_dtype(DType::F32, "grad")?;
            if g.shape() != root.shape() {
                bail!(
                    Shape,
                    "grad has shape {} but the tensor has shape {}; pass a gradient of the same shape",
                    fmt_shape(g.shape()),
                    fmt_shape(root.shape())
                );
            }
        }
    }
    if mode::is_inference_enabled() {
        bail!(InferenceMode, "backward cannot run while inference mode is on: nothing was recorded there and no gradient may change; call rt_inference_mode_exit first");
    }
    let (requires_grad, grad_fn) = (root.requires_grad(), root.grad_fn());
    if grad_fn.is_none() && !requires_grad {
        bail!(Autograd, "the {} does not require grad and has no grad_fn, so there is nothing to differentiate; set requires_grad on the inputs before the forward pass (outside no_grad and inference mode)", root.describe());
    }
    let seed = match grad {
        Some(g) => g.clone(),
        None => raw::full(root.shape(), 1.0, DType::F32, false)?,
    };
    let Some(root_fn) = grad_fn else {
        return commit(vec![(root.clone(), seed)], Vec::new(), &[], retain_graph);
    };

    let nodes = discover(&root_fn)?;
    let mut deps: HashMap<usize, usize> = HashMap::new();
    for n in &nodes {
        for e in n.edges.iter().flatten() {
            if let Edge::Node(c) = e {
                *deps.entry(key(c)).or_insert(0) += 1;
            }
        }
    }

    let mut grads: HashMap<usize, Tensor> = HashMap::from([(key(&root_fn), seed)]);
    let mut leaf_grads: Vec<(Tensor, Tensor)> = Vec::new();
    let mut leaf_index: HashMap<usize, usize> = HashMap::new();
    let mut retained: Vec<(Arc<TensorImpl>, Tensor)> = Vec::new();
    let mut ready = vec![root_fn.clone()];
    while let Some(node) = ready.pop() {
        let g = grads.remove(&key(&node));
        let inputs = match &g {
            Some(g) => {
                if let Some(t) = node.retained.lock().as_ref().and_then(|w| w.upgrade()) {
                    retained.push((t, g.clone()));
                }
                node.apply(g)?
            }
            None => vec![None; node.edges.len()],
        };
        for (edge, gi) in node.edges.iter().zip(inputs) {
            match edge {
                None => {}
                Some(Edge::Leaf(leaf)) => {
                    // A leaf already dropped by everyone else is skipped (see Edge::Leaf).
                    if let (Some(gi), Some(leaf)) = (gi, leaf.upgrade()) {
                        let k = Arc::as_ptr(&leaf) as usize;
                        match leaf_index.get(&k) {
                            Some(&i) => leaf_grads[i].1 = raw::add(&leaf_grads[i].1, &gi)?,
                            None => {
                                leaf_index.insert(k, leaf_grads.len());
                                leaf_grads.push((Tensor(leaf), gi));
                            }
                        }
                    }
                }
                Some(Edge::Node(child)) => {
                    let k = key(child);
                    if let Some(gi) = gi {
                        let sum = match grads.remove(&k) {
                            Some(prev) => raw::add(&prev, &gi)?,
                            None => gi,
                        };
                        grads.insert(k, sum);
                    }
                    let d = deps.get_mut(&k).expect("every child was counted");
                    *d -= 1;
                    if *d == 0 {
                        ready.push(child.clone());
                    }
                }
            }
        }
    }
    commit(leaf_grads, retained, &nodes, retain_graph)
}

/// Every node reachable from `root`, each checked for a freed graph or a modified saved tensor.
fn discover(root: &Arc<Node>) -> Result<Vec<Arc<Node>>> {
    let mut seen: HashMap<usize, ()> = HashMap::new();
    let mut nodes = Vec::new();
    let mut stack = vec![root.clone()];
    seen.insert(key(root), ());
    while let Some(n) = stack.pop() {
        n.check_saved()?;
        for e in n.edges.iter().flatten() {
            if let Edge::Node(c) = e {
                if seen.insert(key(c), ()).is_none() {
                    stack.push(c.clone());
                }
            }
        }
        nodes.push(n);
    }
    Ok(nodes)
}

/// Accumulates into leaves (in place into an existing .grad, as PyTorch does outside grad mode),
/// sets retained grads, and frees saved tensors unless the graph is retained.
fn commit(
    leaf_grads: Vec<(Tensor, Tensor)>,
    retained: Vec<(Arc<TensorImpl>, Tensor)>,
    nodes: &[Arc<Node>],
    retain_graph: bool,
) -> Result<()> {
    let serialized = COMMIT.lock();
    let mut updates = Vec::with_capacity(leaf_grads.len() + retained.len());
    for (t, g) in leaf_grads.into_iter().chain(retained.into_iter().map(|(i, g)| (Tensor(i), g))) {
        let new = match t.grad() {
            Some(prev) if prev.shape() == g.shape() => raw::add(&prev, &g)?,
            _ => raw::contiguous_copy(&g, false)?,
        };
        updates.push((t, new));
    }
    for (t, new) in updates {
        let mut m = t.meta();
        match &m.grad {
            Some(prev) if prev.shape() == new.shape() && prev.is_contiguous() && !prev.is_inference() => {
                raw::copy_into(prev, &new);
                prev.storage().bump_version();
            }
            _ => m.grad = Some(new),
        }
    }
    drop(serialized);
    if !retain_graph {
        for n in nodes {
            n.release();
        }
    }
    Ok(())
}
