//! Reductions over strided operands.

use super::elementwise::for_each_row2;

/// Sums `a` (shape, offset, strides) into `out`, where `out_strides` maps every input dim to the
/// output (0 for reduced dims). Accumulates in f64 (in `acc`, zeros of out's length, which the
/// caller allocates fallibly), so the result does not depend on the order.
pub fn sum_into(out: &mut [f32], acc: &mut [f64], shape: &[usize], a: &[f32], la: (usize, &[usize]), out_strides: &[usize]) {
    let n = shape.len();
    let (ia, io) = if n == 0 { (1, 1) } else { (la.1[n - 1], out_strides[n - 1]) };
    for_each_row2(shape, la, (0, out_strides), |_, pa, po, len| {
        if io == 0 {
            let s: f64 = (0..len).map(|i| a[pa + i * ia] as f64).sum();
            acc[po] += s;
        } else {
            for i in 0..len {
                acc[po + i * io] += a[pa + i * ia] as f64;
            }
        }
    });
    for (o, &v) in out.iter_mut().zip(&*acc) {
        *o = v as f32;
    }
}

/// Index of the first maximum of each innermost row (NaN counts as the maximum, as in PyTorch).
pub fn argmax_rows(out: &mut [i64], shape: &[usize], a: &[f32], la: (usize, &[usize])) {
    let n = shape.len();
    let ia = la.1[n - 1];
    let mut r = 0;
    for_each_row2(shape, la, la, |_, pa, _, len| {
        let mut best = a[pa];
        let mut best_i = 0usize;
        for i in 1..len {
            let x = a[pa + i * ia];
            if !best.is_nan() && (x > best || x.is_nan()) {
                best = x;
                best_i = i;
            }
        }
        out[r] = best_i as i64;
        r += 1;
    });
}
