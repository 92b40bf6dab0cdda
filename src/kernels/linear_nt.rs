//! out = x · wᵀ (+ bias, then ReLU if asked) for x [m, k] and w [n, k] whose rows are contiguous in k: the layout of
//! nn.Linear's input and weight (and of conv's unfolded patches against its filters).
//!
//! Dot-product form: every output is the dot product of an x row and a w row, both read in place.
//! Nothing is packed, which is what makes small batches fast (packing a 784 x 256 weight costs
//! about as much as a batch-64 forward); a register tile of MR x-rows by NR w-rows reuses each
//! loaded vector NR or MR times, and k is blocked so a tile's rows stay in L1 while a block of w
//! rows stays in L2. Work is split across the pool by output columns (small batches: each core
//! keeps its half of the weight in its own L2) or by rows (large batches).
//!
//! Every output is summed in the same order whatever the tile, block or thread it falls in, so
//! results do not depend on the thread count. Kernels: AVX-512F, AVX2+FMA or portable code,
//! picked once at run time (valgrind reports no AVX-512, so it runs the AVX2 kernel).

use super::simd::{isa, supports, Isa};
use crate::parallel;

/// Row i of an operand is `data[i * stride..][..k]`. Rows may overlap (an expanded input repeats
/// one row with stride 0): operands are only read.
#[derive(Clone, Copy)]
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub stride: usize,
}

impl Rows<'_> {
    fn check(&self, rows: usize, k: usize, what: &str) {
        if rows > 0 && k > 0 {
            assert!((rows - 1) * self.stride + k <= self.data.len(), "linear_nt: {what} ({rows} x {k}) does not fit its slice");
        }
    }
}

/// What is applied to each finished output: `bias` (length n) added on every row, then ReLU if
/// asked (fused here so the output is written once).
#[derive(Clone, Copy, Default)]
pub struct Epilogue<'a> {
    pub bias: Option<&'a [f32]>,
    pub relu: bool,
}

/// out (m x n, row-major, contiguous) = epilogue(x wᵀ), into `out`'s spare room (its length
/// becomes m x n): every output is written, so a fresh output needs no zero fill first.
pub fn linear_nt_into(m: usize, n: usize, k: usize, x: Rows<'_>, w: Rows<'_>, epilogue: Epilogue<'_>, out: &mut Vec<f32>) {
    let len = m.checked_mul(n).expect("linear_nt_into: m x n overflows");
    assert!(out.is_empty() && out.capacity() >= len, "linear_nt_into: out must be empty with room for {m} x {n}");
    // SAFETY: the room holds m x n values and is borrowed uniquely.
    unsafe { linear_nt_raw(isa(), m, n, k, x, w, epilogue, out.as_mut_ptr()) };
    // SAFETY: linear_nt_raw wrote every one of the m x n values.
    unsafe { out.set_len(len) }
}

/// `linear_nt_into` over an initialised `out`, with a chosen kernel set (tests compare them); an
/// ISA this CPU lacks panics.
#[allow(clippy::too_many_arguments)]
pub fn linear_nt_with(isa_: Isa, m: usize, n: usize, k: usize, x: Rows<'_>, w: Rows<'_>, epilogue: Epilogue<'_>, out: &mut [f32]) {
    assert!(out.len() >= m * n, "linear_nt: out holds {} values, needs {m} x {n}", out.len());
    // SAFETY: `out` holds m x n values and is a unique borrow.
    unsafe { linear_nt_raw(isa_, m, n, k, x, w, epilogue, out.as_mut_ptr()) }
}

/// Writes every one of the m x n outputs at `out` (rows n apart) without reading them first.
///
/// # Safety
/// `out` must be valid for m x n writes and alias neither operand.
#[allow(clippy::too_many_arguments)]
unsafe fn linear_nt_raw(isa_: Isa, m: usize, n: usize, k: usize, x: Rows<'_>, w: Rows<'_>, epilogue: Epilogue<'_>, out: *mut f32) {
    let bias = epilogue.bias;
    if let Some(b) = bias {
        assert!(b.len() >= n, "linear_nt: bias has {} values, needs {n}", b.len());
    }
    if m == 0 || n == 0 {
        return;
    }
    x.check(m, k, "x");
    w.check(n, k, "w");
    assert!(supports(isa_), "linear_nt: {} kernels are not supported on this CPU", isa_.name());
    let job = Job {
        x: x.data.as_ptr(),
        ldx: x.stride,
        w: w.data.as_ptr(),
        ldw: w.stride,
        k,
        bias: bias.map(<[f32]>::as_ptr),
        relu: epilogue.relu,
        out,
        ldo: n,
    };
    let threads = threads_for(m, n, k);
    if threads == 1 {
        // SAFETY: the extents were checked above, `out` as the caller's contract.
        unsafe { run(isa_, &job, 0..m, 0..n) };
        return;
    }
    // Split the larger output dimension: fewer rows than columns means the weight dominates, and
    // each core then reads only its share of it. Chunks go to whichever thread is free first.
    let split_cols = m < n;
    let (len, align) = if split_cols { (n, 16) } else { (m, 4) };
    let chunk = (len / (4 * threads)).max(align).div_ceil(align) * align;
    let task = |c: usize| {
        let range = c * chunk..((c + 1) * chunk).min(len);
        let (rows, cols) = if split_cols { (0..m, range) } else { (range, 0..n) };
        // SAFETY: as above; each chunk runs once, and chunks write disjoint parts of `out`.
        unsafe { run(isa_, &job, rows, cols) }
    };
    parallel::for_each_chunk(threads - 1, len.div_ceil(chunk), &task);
}

/// Threads worth using: the pool where the GEMM wrapper would use it (2M multiply-adds and more),
/// and also for a few rows against a weight of 512 KiB or more, where reading the weight dominates
/// and two cores read their halves at once (batch 1 of the 784-256 layer: 6.4-7.0 us on two
/// threads, 8.8-10.3 us on one, measured side by side here).
fn threads_for(m: usize, n: usize, k: usize) -> usize {
    match parallel::gemm_threads(m, n, k) {
        1 if m <= 4 && n.saturating_mul(k) >= 1 << 17 => parallel::num_threads(),
        threads => threads,
    }
}

/// Operand pointers and strides, shared by the pool's tasks.
struct Job {
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    k: usize,
    bias: Option<*const f32>,
    relu: bool,
    out: *mut f32,
    ldo: usize,
}
// SAFETY: `linear_nt_with` keeps the borrowed slices alive until every task is done, and tasks
// write disjoint rectangles of `out`.
unsafe impl Sync for Job {}

/// k per block: an MR-row tile of x (4 rows of 4 KiB, reused by every w tile of the block) stays
/// in L1. Each block ends in a horizontal sum per output, so blocks are as long as L1 allows: the
/// common in_features (784, 1024) take one.
const KC: usize = 1024;
/// w rows per block (a multiple of every NR): 64 rows x KC = 256 KiB stay in L2 while every x
/// tile passes over them.
const NC: usize = 64;

/// # Safety
/// The job's pointers address valid operands for the given rows and columns.
unsafe fn run(isa_: Isa, job: &Job, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
    match isa_ {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::run_avx512(job, rows, cols),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => x86::run_avx2(job, rows, cols),
        _ => blocks::<Portable, 4, 2>(job, rows, cols),
    }
}

/// What a tile kernel needs of a vector type.
trait Simd {
    type V: Copy;
    const LANES: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n` (< LANES) values at p, zeros after them.
    unsafe fn load_tail(p: *const f32, n: usize) -> Self::V;
    unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
    /// The lanes of v added in one fixed order (the tree in `Portable::sum`, whatever the width).
    unsafe fn sum(v: Self::V) -> f32;
    /// The sums of four vectors at once, each added in the order of `sum`: an output comes out
    /// bit-identical whichever of the two computes it (a full tile or an edge tile).
    unsafe fn sum4(v: [Self::V; 4]) -> [f32; 4];
}

/// Walks the blocks of `rows` x `cols` and runs MR x NR tiles (smaller at the edges).
#[inline(always)]
unsafe fn blocks<S: Simd, const MR: usize, const NR: usize>(job: &Job, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
    let k = job.k;
    let mut pc = 0;
    loop {
        let kc = KC.min(k - pc);
        let (first, last) = (pc == 0, pc + kc == k);
        let mut jc = cols.start;
        while jc < cols.end {
            let nc_end = (jc + NC).min(cols.end);
            let mut i = rows.start;
            while i < rows.end {
                let mr = MR.min(rows.end - i);
                let mut j = jc;
                while j < nc_end {
                    let nr = NR.min(nc_end - j);
                    let x = job.x.add(i * job.ldx + pc);
                    let w = job.w.add(j * job.ldw + pc);
                    let mut sums = [[0f32; NR]; MR];
                    edge_tile::<S, MR, NR>(mr, nr, x, job.ldx, w, job.ldw, kc, &mut sums);
                    store_tile(job, i, j, mr, nr, &sums, first, last);
                    j += nr;
                }
                i += mr;
            }
            jc = nc_end;
        }
        pc += kc;
        if pc >= k {
            break;
        }
    }
}

/// Writes a tile's sums to `out` at (i, j), four outputs at a time where the tile is that wide.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn store_tile<const MR: usize, const NR: usize>(
    job: &Job,
    i: usize,
    j: usize,
    mr: usize,
    nr: usize,
    sums: &[[f32; NR]; MR],
    first: bool,
    last: bool,
) {
    for (di, row) in sums.iter().enumerate().take(mr) {
        // Index loops: a chunks_exact form measured 4-5% slower on whole layers.
        let mut dj = 0;
        while dj + 4 <= nr {
            store::<4>(job, i + di, j + dj, [row[dj], row[dj + 1], row[dj + 2], row[dj + 3]], first, last);
            dj += 4;
        }
        while dj < nr {
            store::<1>(job, i + di, j + dj, [row[dj]], first, last);
            dj += 1;
        }
    }
}

/// Writes L sums to out[i][j..j + L]: the first k block stores, later ones add; the last adds the
/// bias and applies ReLU. The same code for L = 4 (vectorised) and L = 1 (tile edges) keeps edge
/// outputs bit-identical to the others.
#[inline(always)]
unsafe fn store<const L: usize>(job: &Job, i: usize, j: usize, sums: [f32; L], first: bool, last: bool) {
    let o = job.out.add(i * job.ldo + j) as *mut [f32; L];
    let mut v = sums;
    if !first {
        let old = o.read_unaligned();
        v = std::array::from_fn(|l| old[l] + v[l]);
    }
    if last {
        if let Some(b) = job.bias {
            let b = (b.add(j) as *const [f32; L]).read_unaligned();
            v = std::array::from_fn(|l| v[l] + b[l]);
        }
        if job.relu {
            v = v.map(|x| if x < 0.0 { 0.0 } else { x }); // NaN stays NaN, as torch.relu keeps it
        }
    }
    o.write_unaligned(v);
}

/// A tile of mr <= MR x-rows by nr <= NR w-rows, through the matching fixed-size kernel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn edge_tile<S: Simd, const MR: usize, const NR: usize>(
    mr: usize,
    nr: usize,
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    kc: usize,
    sums: &mut [[f32; NR]; MR],
) {
    macro_rules! pick {
        ($($r:literal),*; $($c:literal),*) => {
            pick!(@rows [$($r),*] [$($c),*])
        };
        (@rows [$($r:literal),*] $cs:tt) => {
            match mr {
                $( $r => pick!(@cols $r $cs), )*
                _ => unreachable!("tile rows {mr} > {MR}"),
            }
        };
        (@cols $r:literal [$($c:literal),*]) => {
            match nr {
                $( $c => tile::<S, $r, $c, MR, NR>(x, ldx, w, ldw, kc, sums), )*
                _ => unreachable!("tile cols {nr} > {NR}"),
            }
        };
    }
    pick!(1, 2, 3, 4; 1, 2, 3, 4, 5, 6, 7, 8)
}

/// sums[i][j] = dot(x row i, w row j) over kc values, for an R x C tile held in registers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<S: Simd, const R: usize, const C: usize, const MR: usize, const NR: usize>(
    x: *const f32,
    ldx: usize,
    w: *const f32,
    ldw: usize,
    kc: usize,
    sums: &mut [[f32; NR]; MR],
) {
    if R > MR || C > NR {
        return;
    }
    let xs: [*const f32; R] = std::array::from_fn(|i| x.add(i * ldx));
    let ws: [*const f32; C] = std::array::from_fn(|j| w.add(j * ldw));
    let mut acc = [[S::zero(); C]; R];
    let full = kc - kc % S::LANES;
    let mut p = 0;
    while p < full {
        let xv: [S::V; R] = std::array::from_fn(|i| S::load(xs[i].add(p)));
        for j in 0..C {
            let wv = S::load(ws[j].add(p));
            for i in 0..R {
                acc[i][j] = S::fma(xv[i], wv, acc[i][j]);
            }
        }
        p += S::LANES;
    }
    if p < kc {
        let n = kc - p;
        let xv: [S::V; R] = std::array::from_fn(|i| S::load_tail(xs[i].add(p), n));
        for j in 0..C {
            let wv = S::load_tail(ws[j].add(p), n);
            for i in 0..R {
                acc[i][j] = S::fma(xv[i], wv, acc[i][j]);
            }
        }
    }
    for i in 0..R {
        let mut j = 0;
        while j + 4 <= C {
            let quad = [acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]];
            sums[i][j..j + 4].copy_from_slice(&S::sum4(quad));
            j += 4;
        }
        for j in j..C {
            sums[i][j] = S::sum(acc[i][j]);
        }
    }
}

/// Eight lanes of plain Rust, which the compiler vectorises for the baseline target.
struct Portable;

impl Simd for Portable {
    type V = [f32; 8];
    const LANES: usize = 8;
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    unsafe fn load(p: *const f32) -> [f32; 8] {
        std::ptr::read_unaligned(p as *const [f32; 8])
    }
    unsafe fn load_tail(p: *const f32, n: usize) -> [f32; 8] {
        let mut v = [0.0; 8];
        std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), n);
        v
    }
    unsafe fn fma(a: [f32; 8], b: [f32; 8], acc: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] * b[l] + acc[l])
    }
    unsafe fn sum(v: [f32; 8]) -> f32 {
        let q = [v[0] + v[4], v[1] + v[5], v[2] + v[6], v[3] + v[7]];
        (q[0] + q[2]) + (q[1] + q[3])
    }
    unsafe fn sum4(v: [[f32; 8]; 4]) -> [f32; 4] {
        v.map(|v| Self::sum(v))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{blocks, Job, Simd};
    use std::arch::x86_64::*;
    use std::ops::Range;

    pub struct Avx512;

    impl Simd for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn load_tail(p: *const f32, n: usize) -> __m512 {
            _mm512_maskz_loadu_ps(((1u32 << n) - 1) as __mmask16, p)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, acc: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, acc)
        }
        #[inline(always)]
        unsafe fn sum(v: __m512) -> f32 {
            Avx2Fma::sum(half(v))
        }
        #[inline(always)]
        unsafe fn sum4([a, b, c, d]: [__m512; 4]) -> [f32; 4] {
            Avx2Fma::sum4([half(a), half(b), half(c), half(d)])
        }
    }

    /// Lanes l and l + 8 added: the first step of every 16-lane sum, leaving an 8-lane one.
    #[inline(always)]
    unsafe fn half(v: __m512) -> __m256 {
        _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v))))
    }

    pub struct Avx2Fma;

    impl Simd for Avx2Fma {
        type V = __m256;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn load_tail(p: *const f32, n: usize) -> __m256 {
            let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes);
            _mm256_maskload_ps(p, mask)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, acc: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, acc)
        }
        #[inline(always)]
        unsafe fn sum(v: __m256) -> f32 {
            let q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let d = _mm_add_ps(q, _mm_movehl_ps(q, q));
            _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps::<1>(d, d)))
        }
        /// `sum`'s tree for four vectors side by side: lanes l + l+4, then pairs (0, 2) and (1, 3),
        /// then those two, with shuffles moving each vector's partial sums next to the others'.
        #[inline(always)]
        unsafe fn sum4([a, b, c, d]: [__m256; 4]) -> [f32; 4] {
            // [qa | qb] and [qc | qd], q = low half + high half.
            let qab = _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(a, b), _mm256_permute2f128_ps::<0x31>(a, b));
            let qcd = _mm256_add_ps(_mm256_permute2f128_ps::<0x20>(c, d), _mm256_permute2f128_ps::<0x31>(c, d));
            // [a0+a2, c0+c2, a1+a3, c1+c3 | the same for b and d].
            let e = _mm256_add_ps(_mm256_unpacklo_ps(qab, qcd), _mm256_unpackhi_ps(qab, qcd));
            // Lanes 0, 1 (and 4, 5) now hold the sums of a, c (b, d).
            let s = _mm256_add_ps(e, _mm256_permute_ps::<0b01_00_11_10>(e));
            let out = _mm_unpacklo_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps::<1>(s));
            std::mem::transmute::<__m128, [f32; 4]>(out)
        }
    }

    /// 4 x 4 tiles: 16 accumulators + 4 x vectors + 1 w vector (LLVM spills a 6 x 4 tile to the
    /// stack). A single row (batch 1) takes 1 x 8 tiles: 8 independent FMA chains cover the FMA
    /// latency where 4 would not.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn run_avx512(job: &Job, rows: Range<usize>, cols: Range<usize>) {
        if rows.len() == 1 {
            blocks::<Avx512, 1, 8>(job, rows, cols)
        } else {
            blocks::<Avx512, 4, 4>(job, rows, cols)
        }
    }

    /// 3 x 4 tiles: 12 accumulators + 3 x vectors + 1 w vector of the 16 ymm registers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn run_avx2(job: &Job, rows: Range<usize>, cols: Range<usize>) {
        if rows.len() == 1 {
            blocks::<Avx2Fma, 1, 8>(job, rows, cols)
        } else {
            blocks::<Avx2Fma, 3, 4>(job, rows, cols)
        }
    }
}
