//! Finite-difference gradcheck of where and masked_fill (API.md 7.B): the gradient reaches only
//! the values each op picks, summed back over broadcast dims, also through strided operands.

use infer::ops::{self, mask};
use infer::{creation, Tensor};

#[path = "support/gradcheck_inputs.rs"]
mod gradcheck_inputs;
#[path = "support/values.rs"]
mod support_values;
use gradcheck_inputs::{check, x};
use support_values::values;

/// A BOOL mask with both values, from the signs of seeded values.
fn mask_of(shape: &[usize], seed: u64) -> Tensor {
    let bits: Vec<u8> = values(shape.iter().product(), seed).iter().map(|&v| (v > 0.0) as u8).collect();
    assert!(bits.contains(&0) && bits.contains(&1), "pick another seed: the mask must have both values");
    creation::from_slice(&bits, shape).unwrap()
}

#[test]
fn where_with_all_three_broadcast() {
    let cond = mask_of(&[2, 1, 4], 1);
    check(|t| mask::where_(&cond, &t[0], &t[1]), &[x(&[3, 1], 2), x(&[2, 3, 4], 3)]);
    check(|t| mask::where_(&cond, &t[0], &t[1]), &[x(&[2, 3, 4], 4), x(&[4], 5)]);
}

#[test]
fn where_through_a_transposed_operand_and_a_constant() {
    let cond = mask_of(&[3, 4], 6);
    let c = creation::from_slice(&values(4, 7), &[4]).unwrap();
    check(|t| mask::where_(&cond, &ops::transpose(&t[0], 0, 1)?, &c), &[x(&[4, 3], 8)]);
    check(|t| mask::where_(&cond, &c, &t[0]), &[x(&[3, 4], 9)]);
}

#[test]
fn masked_fill_zeroes_the_filled_gradient() {
    let m = mask_of(&[3, 1], 14);
    check(|t| mask::masked_fill(&t[0], &m, -2.5), &[x(&[2, 3, 4], 11)]);
    let m = mask_of(&[4, 3], 12);
    check(|t| mask::masked_fill(&ops::transpose(&t[0], 0, 1)?, &m, 0.0), &[x(&[3, 4], 13)]);
}
