//! The seed workflow from Rust, as examples_c/digits.c does it from C (its MLP half): train an MLP
//! (Linear 64 -> 128, ReLU, Linear 128 -> 10) with Adam on the scikit-learn digits, save its
//! weights as safetensors, reload them into a fresh model, and serve the test split in eval and
//! inference mode, printing the accuracy of both models (they must agree).
//!
//!     cargo run --release --example digits [path/to/digits.safetensors] [output directory]
//!
//! digits.safetensors: `images` U8 (1797, 64) with values 0..16, `labels` I64 (1797),
//! `train_count` I64 (1): the first rows are the training split.

use infer::autograd::{engine::backward, mode::InferenceModeGuard};
use infer::io::{module, SafeTensors};
use infer::nn::{Functional, Linear, Module, Sequential};
use infer::ops::{self, UnaryOp};
use infer::optim::{Adam, Optimizer};
use infer::{creation, rng, DType, Tensor};
use std::path::PathBuf;
use std::sync::Arc;

const PIXELS: usize = 64;
const BATCH: usize = 32;
const EPOCHS: usize = 30;

/// The data set as plain vectors: pixels scaled to [0, 1], row-major.
struct Digits {
    x: Vec<f32>,
    y: Vec<i64>,
    n_train: usize,
}

fn load(path: &std::path::Path) -> infer::Result<Digits> {
    let file = SafeTensors::open(path)?;
    // U8 pixels load as I64; the conversion to F32 is an op like any other.
    let x = ops::to(&file.get("images")?, DType::F32)?.to_vec_f32().into_iter().map(|v| v / 16.0).collect();
    let y = file.get("labels")?.to_vec_i64();
    let n_train = file.get("train_count")?.to_vec_i64()[0] as usize;
    Ok(Digits { x, y, n_train })
}

/// Rows `idx` of the data as a (B, 64) batch and its labels.
fn batch(d: &Digits, idx: &[usize]) -> infer::Result<(Tensor, Tensor)> {
    let x: Vec<f32> = idx.iter().flat_map(|&i| d.x[i * PIXELS..(i + 1) * PIXELS].iter().copied()).collect();
    let y: Vec<i64> = idx.iter().map(|&i| d.y[i]).collect();
    Ok((creation::from_slice(&x, &[idx.len(), PIXELS])?, creation::from_slice(&y, &[idx.len()])?))
}

fn mlp() -> infer::Result<Sequential> {
    Sequential::new(vec![
        Arc::new(Linear::new(PIXELS, 128, true)?),
        Arc::new(Functional::activation("ReLU", UnaryOp::Relu)),
        Arc::new(Linear::new(128, 10, true)?),
    ])
}

/// A reproducible shuffle (xorshift), so the example needs no random-number crate of its own.
fn shuffle(order: &mut [usize], state: &mut u64) {
    for i in (1..order.len()).rev() {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        order.swap(i, (*state % (i as u64 + 1)) as usize);
    }
}

fn train(model: &Sequential, d: &Digits) -> infer::Result<()> {
    let mut adam = Optimizer::new(infer::nn::parameters(model), 1e-3, Box::new(Adam::new(0.9, 0.999, 1e-8, 0.0)?))?;
    infer::nn::train(model, true);
    let mut order: Vec<usize> = (0..d.n_train).collect();
    let mut state = 0x2545_f491_4f6c_dd1d;
    for epoch in 0..EPOCHS {
        shuffle(&mut order, &mut state);
        let (mut total, mut steps) = (0.0, 0);
        for idx in order.chunks_exact(BATCH) {
            let (x, y) = batch(d, idx)?;
            adam.zero_grad();
            let loss = ops::cross_entropy(&model.forward(&x)?, &y)?;
            backward(&loss, None, false)?;
            adam.step()?;
            total += loss.to_vec_f32()[0];
            steps += 1;
        }
        if epoch == 0 || epoch == EPOCHS - 1 {
            println!("  epoch {:2}  mean loss {:.4}", epoch + 1, total / steps as f32);
        }
    }
    Ok(())
}

/// Test accuracy, served in eval mode and inference mode (no graph, no version counters).
fn accuracy(model: &Sequential, d: &Digits) -> infer::Result<f64> {
    let test: Vec<usize> = (d.n_train..d.y.len()).collect();
    let (x, y) = batch(d, &test)?;
    infer::nn::train(model, false);
    let predicted = {
        let _inference = InferenceModeGuard::new(true);
        ops::argmax(&model.forward(&x)?, 1, false)?
    };
    let correct = predicted.to_vec_i64().iter().zip(y.to_vec_i64()).filter(|(p, y)| **p == *y).count();
    Ok(correct as f64 / test.len() as f64)
}

fn main() -> infer::Result<()> {
    let mut args = std::env::args().skip(1);
    let data = PathBuf::from(args.next().unwrap_or_else(|| "examples_c/digits.safetensors".into()));
    let out_dir = PathBuf::from(args.next().unwrap_or_else(|| std::env::temp_dir().display().to_string()));
    rng::manual_seed(0);
    let d = load(&data)?;
    println!("digits: {} training and {} test images", d.n_train, d.y.len() - d.n_train);

    let model = mlp()?;
    train(&model, &d)?;
    let trained = accuracy(&model, &d)?;
    println!("trained: test accuracy {:.2}%", 100.0 * trained);

    let path = out_dir.join("digits_mlp.safetensors");
    module::save(&model, &path)?;
    let fresh = mlp()?;
    module::load(&fresh, &path, true)?;
    let reloaded = accuracy(&fresh, &d)?;
    println!("saved to {}, reloaded into a fresh model: test accuracy {:.2}%", path.display(), 100.0 * reloaded);

    let stats = infer::storage::memory_stats();
    println!("tensor memory: {} KiB live, {} KiB peak", stats.live_bytes / 1024, stats.peak_bytes / 1024);
    if reloaded != trained || reloaded < 0.95 {
        eprintln!("digits: the reloaded model disagrees or missed the 95% target");
        std::process::exit(1);
    }
    Ok(())
}
