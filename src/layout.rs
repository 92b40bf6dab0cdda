//! Shape + strides + offset (in elements) into a storage: the arithmetic of views.
//! Strides are never negative: no view in the API reverses a dimension.

use crate::shape::{numel, Dims};

/// Where a tensor's elements are in its storage: shape, strides (in elements) and offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Size of each dimension.
    pub shape: Dims,
    /// Elements to step over for one step along each dimension.
    pub strides: Dims,
    /// Index of the first element in the storage.
    pub offset: usize,
}

/// Row-major strides of `shape`.
#[inline]
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(1, shape.len());
    let mut acc = 1usize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc = acc.saturating_mul(shape[i].max(1));
    }
    strides
}

impl Layout {
    /// A row-major layout of `shape` at offset 0.
    #[inline]
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: Dims::from_slice(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Row-major contiguous, as PyTorch's is_contiguous (size-1 dims may have any stride).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1usize;
        for i in (0..self.shape.len()).rev() {
            if self.shape[i] == 1 {
                continue;
            }
            if self.strides[i] != expected {
                return self.numel() == 0;
            }
            expected *= self.shape[i];
        }
        true
    }

    /// Whether this is exactly `Layout::contiguous(shape)`.
    pub fn is_contiguous_of(&self, shape: &[usize]) -> bool {
        if self.offset != 0 || !crate::shape::same(&self.shape, shape) {
            return false;
        }
        let mut acc = 1usize;
        for i in (0..shape.len()).rev() {
            if self.strides[i] != acc {
                return false;
            }
            acc = acc.saturating_mul(shape[i].max(1));
        }
        true
    }

    /// One past the largest element offset this layout touches (0 for an empty tensor).
    pub fn extent(&self) -> usize {
        if self.numel() == 0 {
            return 0;
        }
        self.offset + self.shape.iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// The layout with dimensions `d0` and `d1` swapped.
    pub fn transpose(&self, d0: usize, d1: usize) -> Layout {
        let mut l = self.clone();
        l.shape.swap(d0, d1);
        l.strides.swap(d0, d1);
        l
    }

    /// The layout with dimensions reordered: dimension `i` of the result is `perm[i]` of this one.
    pub fn permute(&self, perm: &[usize]) -> Layout {
        Layout {
            shape: perm.iter().map(|&p| self.shape[p]).collect(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        }
    }

    /// The layout of `len` elements from `start` along `dim`.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut l = self.clone();
        if len > 0 {
            l.offset += start * self.strides[dim];
        }
        l.shape[dim] = len;
        l
    }

    /// The layout with `dim` removed at `index`.
    pub fn select(&self, dim: usize, index: usize) -> Layout {
        let mut l = self.clone();
        l.offset += index * self.strides[dim];
        l.shape.remove(dim);
        l.strides.remove(dim);
        l
    }

    /// The layout with a dimension of size 1 inserted at `dim`.
    pub fn unsqueeze(&self, dim: usize) -> Layout {
        let mut l = self.clone();
        let stride = if dim < self.ndim() { self.shape[dim] * self.strides[dim] } else { 1 };
        l.shape.insert(dim, 1);
        l.strides.insert(dim, stride.max(1));
        l
    }

    /// Removes the given size-1 dims (all size-1 dims when `dim` is None).
    pub fn squeeze(&self, dim: Option<usize>) -> Layout {
        let keep = |i: usize| self.shape[i] != 1 || dim.is_some_and(|d| d != i);
        Layout {
            shape: (0..self.ndim()).filter(|&i| keep(i)).map(|i| self.shape[i]).collect(),
            strides: (0..self.ndim()).filter(|&i| keep(i)).map(|i| self.strides[i]).collect(),
            offset: self.offset,
        }
    }

    /// Broadcast to `shape` (already validated): new leading dims and expanded dims get stride 0.
    pub fn expand(&self, shape: &[usize]) -> Layout {
        let lead = shape.len() - self.ndim();
        let mut strides = Dims::from_elem(0, shape.len());
        for i in 0..self.ndim() {
            strides[lead + i] = if self.shape[i] == shape[lead + i] { self.strides[i] } else { 0 };
        }
        Layout { shape: Dims::from_slice(shape), strides, offset: self.offset }
    }

    /// Strides that let this layout be viewed with `shape` without a copy (PyTorch's computeStride),
    /// or None when the data would have to move.
    pub fn view_as(&self, shape: &[usize]) -> Option<Layout> {
        if self.numel() == 0 || self.ndim() == 0 {
            let mut l = Layout::contiguous(shape);
            l.offset = self.offset;
            return Some(l);
        }
        let mut new_strides = Dims::from_elem(0, shape.len());
        let mut view_d = shape.len() as isize - 1;
        let mut chunk_base_stride = *self.strides.last().unwrap();
        let mut tensor_numel = 1usize;
        let mut view_numel = 1usize;
        for tensor_d in (0..self.ndim()).rev() {
            tensor_numel *= self.shape[tensor_d];
            let chunk_ends =
                tensor_d == 0 || (self.shape[tensor_d - 1] != 1 && self.strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if chunk_ends {
                while view_d >= 0 && (view_numel < tensor_numel || shape[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= shape[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = self.strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(Layout { shape: Dims::from_slice(shape), strides: new_strides, offset: self.offset })
    }

    /// True when two elements of the layout share a storage slot (an expanded tensor).
    pub fn has_internal_overlap(&self) -> bool {
        self.shape.iter().zip(&self.strides).any(|(&d, &s)| d > 1 && s == 0)
    }

    /// Storage offsets of every element in row-major order.
    pub fn offsets(&self) -> OffsetIter<'_> {
        OffsetIter { layout: self, index: Dims::from_elem(0, self.ndim()), next: Some(self.offset), remaining: self.numel() }
    }
}

/// Storage offsets of a layout's elements in row-major order (see [`Layout::offsets`]).
pub struct OffsetIter<'a> {
    layout: &'a Layout,
    index: Dims,
    next: Option<usize>,
    remaining: usize,
}

impl Iterator for OffsetIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let current = self.next?;
        let mut off = current;
        for d in (0..self.layout.ndim()).rev() {
            self.index[d] += 1;
            off += self.layout.strides[d];
            if self.index[d] < self.layout.shape[d] {
                self.next = Some(off);
                return Some(current);
            }
            off -= self.layout.strides[d] * self.index[d];
            self.index[d] = 0;
        }
        self.next = None;
        Some(current)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_of_transpose() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        assert_eq!(l.offsets().collect::<Vec<_>>(), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn view_of_transposed_needs_copy() {
        let l = Layout::contiguous(&[2, 3]).transpose(0, 1);
        assert!(l.view_as(&[6]).is_none());
        assert!(l.view_as(&[3, 2, 1]).is_some());
    }

    #[test]
    fn view_splits_and_merges() {
        let l = Layout::contiguous(&[4, 6]);
        let v = l.view_as(&[2, 2, 3, 2]).unwrap();
        assert_eq!(v.strides.as_slice(), &[12, 6, 2, 1]);
        assert_eq!(l.narrow(1, 0, 3).view_as(&[12]), None);
    }
}
