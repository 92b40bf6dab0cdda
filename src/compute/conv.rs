//! The working memory convolution's forward and backward share.

use crate::error::{bail, Result};
use crate::kernels::conv::{self, Geometry};

/// Floats of scratch for `tasks` image tasks, or OutOfMemory.
pub fn scratch_len(geo: &Geometry, tasks: usize) -> Result<usize> {
    match conv::scratch_len(geo, tasks) {
        Some(len) if len <= isize::MAX as usize / 8 => Ok(len),
        _ => bail!(OutOfMemory, "conv2d: {tasks} unfolded images of {} x {} values cannot be allocated", geo.col_rows(), geo.col_cols()),
    }
}
