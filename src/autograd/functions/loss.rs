//! Derivatives of the mean-reduced losses (g is the 0-d output gradient).

use crate::autograd::node::{saved_at, Backward};
use crate::compute::raw;
use crate::error::Result;
use crate::storage::try_with_capacity;
use crate::tensor::Tensor;

fn scalar(g: &Tensor) -> f32 {
    g.data::<f32>()[0]
}

/// cross_entropy = mean_i (logsumexp(x_i) - x_i\[t_i\]): dx_i = g (softmax(x_i) - onehot(t_i)) / N.
/// Saved: [softmax of the logits, targets].
pub struct CrossEntropyBackward;

impl Backward for CrossEntropyBackward {
    fn name(&self) -> &'static str {
        "NllLossBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let probs = saved_at(saved, 0);
        let targets = saved_at(saved, 1).try_data::<i64>()?;
        let (n, c) = (probs.shape()[0], probs.shape()[1]);
        let scale = scalar(g) / n as f32;
        let mut dx = try_with_capacity(n * c)?;
        dx.extend(probs.try_data::<f32>()?.iter().map(|&p| p * scale));
        for (r, &t) in targets.iter().enumerate() {
            dx[r * c + t as usize] -= scale;
        }
        Ok(vec![Some(raw::from_vec(dx, &[n, c], false))])
    }
}

/// mse = mean((a - b)^2): da = 2 g (a - b) / n, db = -da. Saved: [a, b].
pub struct MseBackward {
    pub needs: [bool; 2],
}

impl Backward for MseBackward {
    fn name(&self) -> &'static str {
        "MseLossBackward"
    }

    fn apply(&self, g: &Tensor, saved: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (saved_at(saved, 0), saved_at(saved, 1));
        let scale = 2.0 * scalar(g) / a.numel() as f32;
        let da = raw::zip_map(a, b, |x, y| (x - y) * scale)?;
        let db = if self.needs[1] { Some(raw::map(&da, false, |v: f32| -v)?) } else { None };
        Ok(vec![self.needs[0].then_some(da), db])
    }
}
