//! Moving data between tensors and `ndarray` arrays (cargo feature `ndarray`, on by default).
//!
//! - [`Tensor::from_ndarray`] takes an owned array's buffer without copying when the array is in
//!   standard (row-major) layout and owns exactly its elements; any other array is copied in
//!   logical order.
//! - [`Tensor::to_ndarray`] copies the elements into a new standard-layout array.
//! - [`Tensor::ndarray_view`] borrows the elements with the tensor's own strides (no copy, views
//!   and expanded tensors included). Another handle could write to the same storage while the
//!   borrow lives, so the safe form asks for `&mut self` and refuses a tensor whose storage
//!   anything else holds (another handle, a view, a backward node);
//!   [`Tensor::ndarray_view_unchecked`] skips that check for callers who guarantee no writes.

use crate::creation;
use crate::error::{bail, Result};
use crate::storage::Element;
use crate::tensor::Tensor;
use ndarray::{ArrayD, ArrayViewD, IxDyn, ShapeBuilder};
use std::sync::Arc;

impl Tensor {
    /// A tensor holding `array`'s elements: its buffer, not a copy, when the array is in standard
    /// layout and owns exactly its elements. The tensor is an inference tensor when made inside
    /// inference mode (rule I1), like every factory's.
    ///
    /// ```
    /// use infer::Tensor;
    /// let a = ndarray::ArrayD::from_shape_vec(vec![2, 3], vec![1f32, 2., 3., 4., 5., 6.]).unwrap();
    /// let data = a.as_ptr();
    /// let t = Tensor::from_ndarray(a).unwrap();
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert_eq!(t.storage().as_ptr() as *const f32, data); // the same buffer
    /// ```
    pub fn from_ndarray<T: Element>(array: ArrayD<T>) -> Result<Tensor> {
        let shape = array.shape().to_vec();
        let numel = array.len();
        if array.is_standard_layout() {
            let (elements, offset) = array.into_raw_vec_and_offset();
            if elements.len() == numel && offset.unwrap_or(0) == 0 {
                return Ok(creation::from_vec(elements, &shape));
            }
            let start = offset.unwrap_or(0);
            return creation::from_slice(&elements[start..start + numel], &shape);
        }
        let elements = crate::storage::try_collect(numel, array.iter().copied())?;
        Ok(creation::from_vec(elements, &shape))
    }

    /// The elements, copied into a new standard-layout array of the tensor's shape.
    /// RT_ERR_DTYPE when `T` is not the tensor's element type.
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        self.expect_element::<T>()?;
        let elements = self.try_to_vec::<T>()?;
        Ok(ArrayD::from_shape_vec(IxDyn(self.shape()), elements).expect("numel elements in row-major order"))
    }

    /// The elements, borrowed with the tensor's strides (no copy). Refused (RT_ERR_INVALID_ARGUMENT)
    /// while anything else holds this tensor or its storage, since that holder could write to the
    /// elements during the borrow; `&mut self` keeps this handle from being cloned meanwhile.
    /// RT_ERR_DTYPE when `T` is not the tensor's element type.
    ///
    /// ```
    /// use infer::{creation, Tensor};
    /// let mut t = creation::from_slice(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
    /// let v = t.ndarray_view::<f32>().unwrap();
    /// assert_eq!(v[[1, 0]], 4.0);
    /// ```
    pub fn ndarray_view<T: Element>(&mut self) -> Result<ArrayViewD<'_, T>> {
        if Arc::strong_count(&self.0) != 1 || Arc::strong_count(self.storage()) != 1 {
            bail!(
                InvalidArgument,
                "this tensor's elements are shared (another handle, a view, or a saved tensor of a graph), so they could change while borrowed; borrow a tensor nothing else holds, take a copy with to_ndarray, or use ndarray_view_unchecked if no one writes meanwhile"
            );
        }
        // SAFETY: nothing else holds the tensor or its storage, and the &mut borrow keeps this
        // handle from being cloned while the view lives, so nothing can write to the elements.
        unsafe { self.ndarray_view_unchecked() }
    }

    /// As [`Tensor::ndarray_view`] without the exclusivity check.
    ///
    /// # Safety
    /// Nothing may write to the tensor's storage (through any tensor sharing it: views, other
    /// handles, in-place ops, optimizers, the C API) while the returned view lives.
    pub unsafe fn ndarray_view_unchecked<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        self.expect_element::<T>()?;
        let layout = self.layout();
        let elements = crate::storage::from_offset(self.storage().slice::<T>(), layout.offset);
        let shape = IxDyn(&layout.shape).strides(IxDyn(&layout.strides));
        Ok(ArrayViewD::from_shape(shape, elements).expect("a tensor's layout stays within its storage"))
    }

    fn expect_element<T: Element>(&self) -> Result<()> {
        if T::DTYPE != self.dtype() {
            bail!(
                Dtype,
                "the tensor is {} but the array's element type is {}; convert with rt_tensor_to first",
                self.dtype().name(),
                T::DTYPE.name()
            );
        }
        Ok(())
    }
}
