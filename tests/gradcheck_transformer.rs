//! Finite-difference gradcheck of MultiheadAttention's forward (self- and cross-attention, both
//! layouts, BOOL and F32 masks, the F32 mask's own gradient) and of a TransformerEncoderLayer's.

use infer::nn::transformer_encoder_layer::EncoderLayerConfig;
use infer::nn::{Module, MultiheadAttention, TransformerEncoderLayer};
use infer::Tensor;

#[path = "support/gradcheck_inputs.rs"]
mod gradcheck_inputs;
#[path = "support/values.rs"]
mod support_values;
use gradcheck_inputs::{bools, check, x};

/// The tests run on parallel threads and each seeds the process-wide generator before it draws
/// its module's weights: without this lock another test's seeding could land between, giving
/// weights that put an input on a ReLU kink, where finite differences are wrong (it happened
/// once in CI).
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `build` with the generator seeded with `seed`, no other test drawing meanwhile.
fn seeded<T>(seed: u64, build: impl FnOnce() -> T) -> T {
    let _only_us = SEEDED.lock().unwrap_or_else(|e| e.into_inner());
    infer::rng::manual_seed(seed);
    build()
}

#[test]
fn mha_self_and_cross_attention() {
    let m = seeded(3, || MultiheadAttention::new(6, 2, true, false, 0.0).unwrap());
    check(|t| m.forward(&t[0]), &[x(&[3, 2, 6], 1)]);
    let qkv = [x(&[3, 2, 6], 2), x(&[4, 2, 6], 3), x(&[4, 2, 6], 4)];
    check(|t| m.forward_n(&[Some(t[0].clone()), Some(t[1].clone()), Some(t[2].clone())]), &qkv);
}

#[test]
fn mha_with_masks_batch_first() {
    let m = seeded(4, || MultiheadAttention::new(4, 2, true, true, 0.0).unwrap());
    let kpm = bools(&[0, 0, 1, 0, 0, 0], &[2, 3]);
    let attn = bools(&[0, 1, 0, 0, 0, 1], &[2, 3]);
    let qkv = [x(&[2, 2, 4], 5), x(&[2, 3, 4], 6), x(&[2, 3, 4], 7)];
    let run = |t: &[Tensor], mask: &Tensor| {
        m.forward_n(&[Some(t[0].clone()), Some(t[1].clone()), Some(t[2].clone()), Some(kpm.clone()), Some(mask.clone())])
    };
    check(|t| run(t, &attn), &qkv);
    // An F32 (batch * heads, L, S) mask gets its own gradient, the padding mask added to it.
    let with_mask = [qkv[0].clone(), qkv[1].clone(), qkv[2].clone(), x(&[4, 2, 3], 8)];
    check(|t| run(t, &t[3]), &with_mask);
}

#[test]
fn encoder_layer_pre_and_post_norm() {
    // Post-norm with ReLU, then pre-norm with GELU, drawn in that order from one seed.
    let layers = seeded(5, || {
        [false, true].map(|norm_first| {
            let c = EncoderLayerConfig {
                d_model: 4,
                nhead: 2,
                dim_feedforward: 6,
                dropout: 0.1,
                gelu: norm_first,
                layer_norm_eps: 1e-5,
                batch_first: true,
                norm_first,
            };
            TransformerEncoderLayer::new(&c).unwrap()
        })
    });
    for layer in layers {
        infer::nn::train(&layer, false);
        check(|t| layer.forward(&t[0]), &[x(&[2, 3, 4], 9)]);
    }
}
