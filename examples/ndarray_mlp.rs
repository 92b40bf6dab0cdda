//! The seed workflow from Rust, with data coming from and going back to `ndarray`:
//! build an MLP (Linear 64 -> 32, ReLU, Linear 32 -> 10), train it a few SGD steps on a random
//! batch with autograd, then serve a batch of "images" in inference mode. The batch moves from an
//! `ndarray::ArrayD` into a tensor without a copy, and the logits come back as an array.
//!
//!     cargo run --example ndarray_mlp

use infer::autograd::{engine::backward, mode::InferenceModeGuard};
use infer::nn::{Functional, Linear, Module, Sequential};
use infer::ops::{self, UnaryOp};
use infer::optim::{Optimizer, Sgd};
use infer::{creation, rng, Tensor};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

fn main() -> infer::Result<()> {
    rng::manual_seed(0);
    let model = Sequential::new(vec![
        Arc::new(Linear::new(64, 32, true)?),
        Arc::new(Functional::activation("ReLU", UnaryOp::Relu)),
        Arc::new(Linear::new(32, 10, true)?),
    ])?;

    // Train: cross-entropy on a fixed random batch, plain SGD.
    let x = creation::randn(&[16, 64])?;
    let labels = creation::from_slice(&(0..16).map(|i| i % 10).collect::<Vec<i64>>(), &[16])?;
    let mut sgd = Optimizer::new(infer::nn::parameters(&model), 0.1, Box::new(Sgd::new(0.0, 0.0)?))?;
    for step in 0..20 {
        let loss = ops::cross_entropy(&model.forward(&x)?, &labels)?;
        sgd.zero_grad();
        backward(&loss, None, false)?;
        sgd.step()?;
        if step % 5 == 0 {
            println!("step {step:2}: loss {:.4}", loss.to_vec_f32()[0]);
        }
    }

    // Serve: a batch of 8 "images" (8x8 pixels) from ndarray, without copying them.
    infer::nn::train(&model, false);
    let images = ArrayD::from_shape_fn(IxDyn(&[8, 64]), |ix| ((ix[0] * 64 + ix[1]) % 17) as f32 / 16.0);
    let pixels = images.as_ptr();
    let batch = Tensor::from_ndarray(images)?;
    assert_eq!(batch.storage().as_ptr() as *const f32, pixels, "the tensor holds the array's own buffer");
    let logits = {
        let _inference = InferenceModeGuard::new(true);
        model.forward(&batch)?
    };
    let logits: ArrayD<f32> = logits.to_ndarray()?;
    let classes: Vec<usize> =
        logits.outer_iter().map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap()).collect();
    println!("logits {:?}, predicted classes {classes:?}", logits.shape());
    Ok(())
}
