//! Adam as torch.optim.Adam (L2 weight decay added to the gradient, no amsgrad), in PyTorch's
//! arithmetic order: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//! p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

use super::{check_range, Rule, StateBuffers};
use crate::error::Result;

/// Adam's update rule (`torch.optim.Adam`).
pub struct Adam {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f32,
    steps: Vec<u64>,
    exp_avg: StateBuffers,
    exp_avg_sq: StateBuffers,
}

impl Adam {
    /// Adam with betas in [0, 1), `eps` >= 0 and L2 `weight_decay` >= 0.
    pub fn new(beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> Result<Adam> {
        check_range("beta1", beta1, 0.0, 1.0, false)?;
        check_range("beta2", beta2, 0.0, 1.0, false)?;
        check_range("eps", eps, 0.0, f64::MAX, true)?;
        check_range("weight_decay", weight_decay, 0.0, f64::MAX, true)?;
        Ok(Adam {
            beta1,
            beta2,
            eps,
            weight_decay: weight_decay as f32,
            steps: Vec::new(),
            exp_avg: StateBuffers::new(),
            exp_avg_sq: StateBuffers::new(),
        })
    }
}

impl Rule for Adam {
    fn prepare(&mut self, i: usize, len: usize) -> Result<()> {
        if self.steps.len() <= i {
            self.steps.resize(i + 1, 0);
        }
        self.exp_avg.prepare(i, len)?;
        self.exp_avg_sq.prepare(i, len)
    }

    fn update(&mut self, i: usize, lr: f64, p: &mut [f32], g: &[f32]) {
        self.steps[i] += 1;
        let t = self.steps[i] as i32;
        let (b1, b2) = (self.beta1 as f32, self.beta2 as f32);
        // 1 - beta in double, rounded once, as PyTorch's Python-float weights (1 - 0.999f32 is off
        // by 5e-5 relative, which moved parameters by 2e-6 within four steps).
        let (c1, c2) = ((1.0 - self.beta1) as f32, (1.0 - self.beta2) as f32);
        let bias1 = 1.0 - self.beta1.powi(t);
        let bias2_sqrt = (1.0 - self.beta2.powi(t)).sqrt() as f32;
        let step_size = (lr / bias1) as f32;
        let (eps, wd) = (self.eps as f32, self.weight_decay);
        let (m, v) = (self.exp_avg.get(i), self.exp_avg_sq.get(i));
        for ((p, &g), (m, v)) in p.iter_mut().zip(g).zip(m.iter_mut().zip(v.iter_mut())) {
            let g = g + wd * *p;
            *m = b1 * *m + c1 * g;
            *v = b2 * *v + c2 * g * g;
            let denom = v.sqrt() / bias2_sqrt + eps;
            *p -= step_size * *m / denom;
        }
    }
}
