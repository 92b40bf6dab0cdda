//! The tensor: a storage, a layout into it, and autograd metadata.

use crate::autograd::node::Node;
use crate::error::{bail, Result};
use crate::layout::Layout;
use crate::shape::fmt_shape;
use crate::storage::{DType, Element, Storage};
use parking_lot::{Mutex, MutexGuard};
use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How a view was made, for the in-place rules of API.md I9 and I11.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CreationMeta {
    /// A normal view.
    Default,
    /// Made in inference mode from a normal tensor.
    InferenceMode,
    /// Made in no-grad mode.
    NoGradMode,
}

/// Present on views of normal tensors: the root base and how the view was made.
pub struct ViewInfo {
    /// The tensor this is a view of (never itself a view).
    pub base: Tensor,
    /// How the view was made.
    pub creation: CreationMeta,
    /// Identity of the base's grad_fn when the view was made (0 for none). An in-place op that
    /// gives the base new history makes the view's own history stale.
    pub base_fn: usize,
}

impl ViewInfo {
    /// Whether an in-place op gave the base new history since the view was made.
    pub fn base_history_changed(&self) -> bool {
        fn_id(&self.base.meta().grad_fn) != self.base_fn
    }
}

/// Identity of a grad_fn (0 for none), for comparisons.
pub fn fn_id(f: &Option<Arc<Node>>) -> usize {
    f.as_ref().map_or(0, |n| Arc::as_ptr(n) as usize)
}

/// Autograd state of a tensor.
#[derive(Default)]
pub struct AutogradMeta {
    /// The node that computed the tensor (None for leaves).
    pub grad_fn: Option<Arc<Node>>,
    /// The accumulated gradient (`.grad`).
    pub grad: Option<Tensor>,
}

/// What a [`Tensor`] points at: storage, layout, view info and autograd metadata.
pub struct TensorImpl {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) view: Option<ViewInfo>,
    /// Read by every op (outside the lock, so the check costs one atomic load).
    pub(crate) requires_grad: AtomicBool,
    pub(crate) meta: Mutex<AutogradMeta>,
}

/// A cheap-to-clone shared reference to one tensor (what a C handle points at).
///
/// ```
/// use infer::{creation, ops, DType};
///
/// let a = creation::from_slice(&[1f32, 2., 3., 4., 5., 6.], &[2, 3])?;
/// let b = creation::ones(&[3], DType::F32)?;
/// let c = ops::add(&a, &b)?; // broadcasts [3] over [2, 3]
/// assert_eq!(c.shape(), &[2, 3]);
/// assert_eq!(c.to_vec_f32(), vec![2., 3., 4., 5., 6., 7.]);
///
/// // Views share storage: the transpose is not a copy.
/// let t = ops::transpose(&a, 0, 1)?;
/// assert!(t.shares_storage(&a) && !t.is_contiguous());
/// assert_eq!(ops::matmul(&a, &t)?.to_vec_f32(), vec![14., 32., 32., 77.]);
/// # Ok::<(), infer::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorImpl>);

impl Tensor {
    #[inline]
    pub(crate) fn from_parts(storage: Arc<Storage>, layout: Layout, view: Option<ViewInfo>, requires_grad: bool) -> Tensor {
        Tensor(Arc::new(TensorImpl {
            storage,
            layout,
            view,
            requires_grad: AtomicBool::new(requires_grad),
            meta: Mutex::new(AutogradMeta::default()),
        }))
    }

    /// A fresh contiguous tensor owning `data`.
    #[inline]
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize], inference: bool) -> Tensor {
        debug_assert_eq!(data.len(), crate::shape::numel(shape));
        Self::from_parts(Arc::new(Storage::from_vec(data, inference)), Layout::contiguous(shape), None, false)
    }

    /// The storage the tensor's elements are in.
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }

    /// Shape, strides and offset into the storage.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// Size of each dimension.
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }

    /// Whether the elements are in row-major order without gaps.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// Whether this is an inference tensor (made in inference mode: no version counter).
    pub fn is_inference(&self) -> bool {
        self.0.storage.is_inference()
    }

    /// True for views of normal tensors (detach aliases are not views, as in PyTorch).
    pub fn is_view(&self) -> bool {
        self.0.view.is_some()
    }

    /// The base and creation mode, for views of normal tensors.
    pub fn view_info(&self) -> Option<&ViewInfo> {
        self.0.view.as_ref()
    }

    pub(crate) fn meta(&self) -> MutexGuard<'_, AutogradMeta> {
        self.0.meta.lock()
    }

    /// Whether autograd tracks this tensor (`requires_grad`).
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Acquire)
    }

    /// Sets the flag without the user-facing rules (for modules' parameters and recorded outputs).
    pub(crate) fn mark_requires_grad(&self, value: bool) {
        self.0.requires_grad.store(value, Ordering::Release);
    }

    /// The node that computed it (`grad_fn`), None for leaves.
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.meta().grad_fn.clone()
    }

    /// Whether it was not computed by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.meta().grad_fn.is_none()
    }

    /// The gradient accumulated by backward (`.grad`).
    pub fn grad(&self) -> Option<Tensor> {
        self.meta().grad.clone()
    }

    /// The version counter (I3, I8): inference tensors have none.
    pub fn version(&self) -> Option<u64> {
        self.0.storage.version()
    }

    /// Whether both handles point at the same tensor.
    pub fn same_tensor(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// Whether both use the same storage (views, aliases).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The elements in row-major order: borrowed when contiguous, gathered otherwise.
    pub fn data<T: Element>(&self) -> Cow<'_, [T]> {
        let all = self.0.storage.slice::<T>();
        let l = &self.0.layout;
        if l.is_contiguous() || l.numel() == 0 {
            Cow::Borrowed(crate::storage::window(all, l.offset, l.numel()))
        } else {
            Cow::Owned(l.offsets().map(|o| all[o]).collect())
        }
    }

    /// Same as `data` but fails with RT_ERR_OUT_OF_MEMORY rather than aborting on a gather.
    pub fn try_data<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        let l = &self.0.layout;
        if l.is_contiguous() || l.numel() == 0 {
            return Ok(self.data());
        }
        let all = self.0.storage.slice::<T>();
        Ok(Cow::Owned(crate::storage::try_collect(l.numel(), l.offsets().map(|o| all[o]))?))
    }

    /// The elements in row-major order in a vector of their own, or RT_ERR_OUT_OF_MEMORY.
    pub fn try_to_vec<T: Element>(&self) -> Result<Vec<T>> {
        Ok(match self.try_data::<T>()? {
            Cow::Borrowed(s) => crate::storage::try_copy(s)?,
            Cow::Owned(v) => v,
        })
    }

    /// The elements in row-major order as f32 (I64 and BOOL converted).
    pub fn to_vec_f32(&self) -> Vec<f32> {
        match self.dtype() {
            DType::F32 => self.data::<f32>().into_owned(),
            DType::I64 => self.data::<i64>().iter().map(|&v| v as f32).collect(),
            DType::Bool => self.data::<u8>().iter().map(|&v| (v != 0) as u8 as f32).collect(),
        }
    }

    /// The elements in row-major order as i64 (F32 truncated, BOOL as 0 or 1).
    pub fn to_vec_i64(&self) -> Vec<i64> {
        match self.dtype() {
            DType::I64 => self.data::<i64>().into_owned(),
            DType::F32 => self.data::<f32>().iter().map(|&v| v as i64).collect(),
            DType::Bool => self.data::<u8>().iter().map(|&v| (v != 0) as i64).collect(),
        }
    }

    /// An alias of the same data with no autograd history: what backward nodes save, so the
    /// graph never holds a tensor that points back at its own grad_fn.
    pub(crate) fn detached_alias(&self) -> Tensor {
        Self::from_parts(self.0.storage.clone(), self.0.layout.clone(), None, false)
    }

    /// Rules: only F32 can require grad; I5 (an inference tensor outside inference mode cannot
    /// start requiring grad); only leaves can change the flag.
    pub fn set_requires_grad(&self, value: bool) -> Result<()> {
        if value && self.dtype() != DType::F32 {
            bail!(Dtype, "only F32 tensors can require grad, but this is a {}", self.describe());
        }
        if value && self.is_inference() && !crate::autograd::mode::is_inference_enabled() {
            bail!(InferenceMode, "an inference tensor cannot be made to require grad outside inference mode (rule I5); make a normal copy with rt_tensor_clone first");
        }
        let m = self.meta();
        if m.grad_fn.is_some() {
            bail!(
                Autograd,
                "requires_grad can only be changed on leaf tensors, and this one was computed by {}; use rt_tensor_detach to get a leaf",
                m.grad_fn.as_ref().map(|f| f.name()).unwrap_or("")
            );
        }
        drop(m);
        self.mark_requires_grad(value);
        Ok(())
    }

    /// `F32 tensor of shape [2, 3]`, for messages.
    pub fn describe(&self) -> String {
        format!("{} tensor of shape {}", self.dtype().name(), fmt_shape(self.shape()))
    }

    /// Fails with RT_ERR_DTYPE, naming `what`, unless the dtype is `dtype`.
    #[inline]
    pub fn expect_dtype(&self, dtype: DType, what: &str) -> Result<()> {
        if self.dtype() != dtype {
            return Err(self.dtype_error(dtype, what));
        }
        Ok(())
    }

    #[cold]
    fn dtype_error(&self, dtype: DType, what: &str) -> crate::error::Error {
        crate::error::err!(Dtype, "{what} is {}; this function takes {}", self.describe(), dtype.name())
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({})", self.describe())
    }
}
