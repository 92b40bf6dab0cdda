//! Selection by a BOOL mask over broadcast operands (torch.where, masked_fill).

/// One operand: its elements, the offset of its first element and its strides, already broadcast
/// to the output's shape (stride 0 on broadcast dims). A scalar is one element with all strides 0.
pub type Strided<'a, T> = (&'a [T], usize, &'a [usize]);

/// out\[i\] = a\[i\] where cond\[i\] is nonzero, else b\[i\], for a contiguous `out` of `shape`.
/// Any nonzero mask byte counts as true: caller memory wrapped as BOOL may hold other bytes.
pub fn select<T: Copy>(out: &mut [T], shape: &[usize], cond: Strided<u8>, a: Strided<T>, b: Strided<T>) {
    let nd = shape.len();
    let (mut pc, mut pa, mut pb) = (cond.1, a.1, b.1);
    let mut idx = smallvec::SmallVec::<[usize; 8]>::from_elem(0, nd);
    for y in out.iter_mut() {
        *y = if cond.0[pc] != 0 { a.0[pa] } else { b.0[pb] };
        // Odometer step to the next output element; positions only grow before they shrink, so
        // the unsigned arithmetic never wraps.
        for d in (0..nd).rev() {
            idx[d] += 1;
            pc += cond.2[d];
            pa += a.2[d];
            pb += b.2[d];
            if idx[d] < shape[d] {
                break;
            }
            pc -= cond.2[d] * shape[d];
            pa -= a.2[d] * shape[d];
            pb -= b.2[d] * shape[d];
            idx[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_through_broadcast_strides() {
        // cond (2,1) broadcast over 3 columns, a a row (1,3), b a scalar.
        let cond = [1u8, 0];
        let a = [1.0f32, 2.0, 3.0];
        let b = [9.0f32];
        let mut out = [0f32; 6];
        select(&mut out, &[2, 3], (&cond, 0, &[1, 0]), (&a, 0, &[0, 1]), (&b, 0, &[0, 0]));
        assert_eq!(out, [1.0, 2.0, 3.0, 9.0, 9.0, 9.0]);
    }

    #[test]
    fn zero_dims_and_any_nonzero_byte() {
        let mut out = [0i64];
        select(&mut out, &[], (&[2u8], 0, &[]), (&[5i64], 0, &[]), (&[6i64], 0, &[]));
        assert_eq!(out, [5]);
    }
}
