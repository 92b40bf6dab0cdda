//! libinfer's packed GEMM (the Goto/BLIS scheme): C (m x n) = [C +] A (m x k) · B (k x n) for
//! strided operands, behind every matmul, convolution and backward product.
//!
//! k is cut into blocks of KC. For each block, B's columns are copied into panels NR wide (KC x NR
//! contiguous: one panel stays in L1 while every A strip passes over it) and A's rows into strips
//! MR tall (MC rows per block stay in L2). A register-blocked micro-kernel then computes an
//! MR x NR tile as KC rank-1 updates: MR broadcasts of A against NR/LANES vectors of B, held in
//! MR x NR/LANES accumulator registers (6 x 16 on AVX2 uses 12 of the 16 ymm registers, 8 x 32 on
//! AVX-512 16 of the 32 zmm). Packing makes every operand layout (transposed, strided) cost the
//! same, and pads edge tiles with zeros so they run the same kernel.
//!
//! The pool splits the output into rectangles (column ranges when n >= m, else row ranges); each
//! task packs what its rectangle needs (A's repacking per column range costs 1/width of the
//! arithmetic). Every output sums its k blocks in order and each block in order, whatever the
//! rectangle, tile or thread it falls in, so results do not depend on the thread count. The
//! kernels use FMA where the instruction set has it, so the AVX2 / AVX-512 results differ from
//! the portable ones by rounding only (one rounding per multiply-add instead of two).

use super::conv::{unfold_panels, Geometry};
use super::room::with_room;
use super::simd::{isa, supports, Isa};
use crate::parallel;
use std::cell::RefCell;
use std::ops::Range;

/// k per block: an NR-wide panel of B (KC x 16 floats = 16 KiB on AVX2) stays in L1.
const KC: usize = 256;
/// A rows per block (a multiple of every MR): MC x KC = 72 KiB of packed A stay in L2.
const MC: usize = 72;
/// B columns per block (a multiple of every NR): KC x NC = 512 KiB of packed B.
const NC: usize = 512;

/// A strided operand: element (i, j) is at `ptr + i * rs + j * cs`.
#[derive(Clone, Copy)]
pub struct Operand {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

/// Where B's elements come from.
#[derive(Clone, Copy)]
pub enum Source {
    /// A strided matrix.
    Matrix(Operand),
    /// The unfolding (im2col, conv.rs) of the image (c, h, w) at `ptr`, never materialised:
    /// B's panels are packed straight from the image (an implicit GEMM), which saves writing and
    /// re-reading a col_rows x col_cols buffer and splits the unfolding across the pool's tasks.
    Unfolded { ptr: *const f32, geo: Geometry },
    /// B already in panels (`PackedB`): nothing is packed per call.
    Packed(*const PackedB),
}

/// Values added to C in the epilogue (to the first k block's sum, instead of C's old value).
#[derive(Clone, Copy)]
pub enum Bias {
    /// One value per row of C (convolution's channels).
    Rows(*const f32),
    /// One value per column of C (nn.Linear's out_features).
    Cols(*const f32),
}

impl Bias {
    /// The bias of the tile whose top-left element is C's (i, j).
    unsafe fn at(self, i: usize, j: usize) -> Bias {
        match self {
            Bias::Rows(b) => Bias::Rows(b.add(i)),
            Bias::Cols(b) => Bias::Cols(b.add(j)),
        }
    }
}

/// B (k x n) packed once into the panels the kernels of one instruction set read, every k block
/// of them: for a weight used call after call (ops/packed_weights.rs), whose panels would
/// otherwise be packed again by every call and every task.
pub struct PackedB {
    data: Vec<f32>,
    k: usize,
    n: usize,
    /// Columns rounded up to whole panels.
    n_pad: usize,
    isa: Isa,
}

impl PackedB {
    /// Packs B (k x n, strided) for `isa_`'s kernels; None when the room cannot be allocated.
    ///
    /// # Safety
    /// `b` must address a valid k x n matrix.
    pub unsafe fn new(isa_: Isa, k: usize, n: usize, b: Operand) -> Option<PackedB> {
        let nr = panel_width(isa_);
        let n_pad = n.div_ceil(nr) * nr;
        let len = Self::bytes_for(isa_, k, n)? / std::mem::size_of::<f32>();
        let mut data = Vec::new();
        data.try_reserve_exact(len).ok()?;
        data.resize(len, 0.0);
        let mut pc = 0;
        while pc < k {
            let kc = KC.min(k - pc);
            pack_b(b, pc, kc, 0, n, nr, isa_ != Isa::Portable, &mut data[pc * n_pad..(pc + kc) * n_pad]);
            pc += kc;
        }
        Some(PackedB { data, k, n, n_pad, isa: isa_ })
    }

    /// B's rows and columns.
    pub fn dims(&self) -> (usize, usize) {
        (self.k, self.n)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.data.len() * std::mem::size_of::<f32>()
    }

    /// Bytes the pack of a k x n B for `isa_`'s kernels holds (columns padded to whole panels);
    /// None on overflow.
    pub fn bytes_for(isa_: Isa, k: usize, n: usize) -> Option<usize> {
        let nr = panel_width(isa_);
        k.checked_mul(n.div_ceil(nr) * nr)?.checked_mul(std::mem::size_of::<f32>())
    }
}

/// The panel width (NR) of `isa_`'s micro-kernel.
fn panel_width(isa_: Isa) -> usize {
    match isa_ {
        Isa::Avx512 => 32,
        Isa::Avx2Fma => 16,
        _ => 8,
    }
}

/// C = [C +] A · B with the kernels of `isa()`, on the calling thread and (when `split` and the
/// product is large enough) the pool.
///
/// # Safety
/// The operands must address valid m x k and k x n matrices, `c` a valid m x n matrix with rows
/// `ldc` apart that aliases neither operand; k > 0.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm(split: bool, m: usize, n: usize, k: usize, c: *mut f32, ldc: isize, accumulate: bool, a: Operand, b: Operand) {
    let threads = if split { parallel::gemm_threads(m, n, k) } else { 1 };
    gemm_with(isa(), threads, m, n, k, c, ldc, accumulate, a, b)
}

/// C = bias + A · B, B from any `Source`, `bias` (when given) one value per row of C added in the
/// epilogue (bias + the first k block's sum, so the same bits as filling C with the bias and
/// accumulating), then, with `relu`, max(C, 0) in the last k block's epilogue (the same bits as a
/// ReLU pass over C afterwards, without the pass): convolution's forward.
///
/// # Safety
/// As `gemm`; an `Unfolded` source must address a whole image of its geometry (k = col_rows,
/// n = col_cols), and `bias` m values.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_source(
    split: bool,
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    ldc: isize,
    a: Operand,
    b: Source,
    bias: Option<*const f32>,
    relu: bool,
) {
    let threads = if split { parallel::gemm_threads(m, n, k) } else { 1 };
    gemm_source_with(isa(), threads, m, n, k, c, ldc, false, a, b, bias.map(Bias::Rows), relu)
}

/// C (m x n) = bias + A (m x k) · B for a B (k x n) packed in advance (nn.Linear's weight,
/// `PackedB`), `bias` one value per column, then ReLU when `relu`; on the calling thread and the
/// pool.
///
/// # Safety
/// As `gemm`; `b` must have been packed for this CPU's `isa()`, `bias` hold n values.
pub unsafe fn gemm_prepacked(m: usize, c: *mut f32, ldc: isize, a: Operand, b: &PackedB, bias: Option<*const f32>, relu: bool) {
    let (k, n) = b.dims();
    assert!(b.isa == isa(), "packed_gemm: B was packed for another instruction set");
    let threads = parallel::gemm_threads(m, n, k);
    gemm_source_with(isa(), threads, m, n, k, c, ldc, false, a, Source::Packed(b), bias.map(Bias::Cols), relu)
}

/// `gemm` with a chosen kernel set and thread count (tests compare them); an ISA this CPU lacks
/// panics.
///
/// # Safety
/// As `gemm`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_with(
    isa_: Isa,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    ldc: isize,
    accumulate: bool,
    a: Operand,
    b: Operand,
) {
    gemm_source_with(isa_, threads, m, n, k, c, ldc, accumulate, a, Source::Matrix(b), None, false)
}

/// `gemm_with` for any `Source`, an optional per-row bias and ReLU (see `gemm_source`).
///
/// # Safety
/// As `gemm_source`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_source_with(
    isa_: Isa,
    threads: usize,
    m: usize,
    n: usize,
    k: usize,
    c: *mut f32,
    ldc: isize,
    accumulate: bool,
    a: Operand,
    b: Source,
    bias: Option<Bias>,
    relu: bool,
) {
    assert!(supports(isa_), "packed_gemm: {} kernels are not supported on this CPU", isa_.name());
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let job = Job { k, a, b, c, ldc, accumulate, bias, relu };
    if threads <= 1 {
        run(isa_, &job, 0..m, 0..n);
        return;
    }
    // Split into ranges (`chunk_len`) none so narrow that repacking the other operand would
    // show. Each task packs the operands its range needs: a column range repacks A unless A is
    // read in place (rows contiguous in k), a row range repacks B unless it was packed in advance.
    // So split the larger dimension, except that with A read in place and B packed per call,
    // columns cost nothing extra while there are enough of them.
    let a_in_place = a.cs == 1;
    let b_prepacked = matches!(b, Source::Packed(_));
    let split_cols = if a_in_place && !b_prepacked { n >= 64 * threads } else { n >= m };
    let (len, unit) = if split_cols { (n, 64) } else { (m, ROW_UNIT) };
    let chunk = chunk_len(len, unit, threads);
    let task = |t: usize| {
        let range = t * chunk..((t + 1) * chunk).min(len);
        let (rows, cols) = if split_cols { (0..m, range) } else { (range, 0..n) };
        // SAFETY: as the caller's contract; chunks write disjoint rectangles of C.
        unsafe { run(isa_, &job, rows, cols) }
    };
    parallel::for_each_chunk(threads - 1, len.div_ceil(chunk), &task);
}

/// Rows of the smallest range a row split gives a task: a few tiles tall at any kernel's MR.
const ROW_UNIT: usize = 48;

/// The length of each of a split's ranges over `len` rows or columns: about four per thread (a
/// thread that wakes late takes fewer), a multiple of `unit`, at least one unit.
fn chunk_len(len: usize, unit: usize, threads: usize) -> usize {
    (len / (4 * threads)).max(unit).div_ceil(unit) * unit
}

/// The operands, shared by the pool's tasks.
struct Job {
    k: usize,
    a: Operand,
    b: Source,
    c: *mut f32,
    ldc: isize,
    accumulate: bool,
    /// Added to the first k block instead of C's old value.
    bias: Option<Bias>,
    /// Whether the last k block's epilogue applies ReLU.
    relu: bool,
}
// SAFETY: `gemm_with` keeps the operands alive until every task is done, and tasks write
// disjoint rectangles of C.
unsafe impl Sync for Job {}

thread_local! {
    /// Packing room, kept per thread: (MC + NC) x KC floats (584 KiB) would otherwise be mapped
    /// and faulted in afresh by every call.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs the rectangle `rows` x `cols` of C with `isa_`'s kernels.
///
/// # Safety
/// As `gemm`, for this rectangle.
unsafe fn run(isa_: Isa, job: &Job, rows: Range<usize>, cols: Range<usize>) {
    with_room(&SCRATCH, |scratch| {
        let need = (MC + NC) * KC;
        if scratch.len() < need {
            scratch.resize(need, 0.0);
        }
        let (apack, bpack) = scratch.split_at_mut(MC * KC);
        match isa_ {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => x86::rect_avx512(job, rows, cols, apack, bpack),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2Fma => x86::rect_avx2(job, rows, cols, apack, bpack),
            _ => rect::<Portable, 4, 1>(job, rows, cols, apack, bpack),
        }
    })
}

/// Convolution's forward with the GEMM's roles swapped: Cᵀ (grid positions x channels) = the
/// unfolding's transpose · Wᵀ, read from a shifted layout (shifted.rs) as A(q, p) =
/// `ptr[offsets[p] + q]` and a `PackedB` of the weight's transpose. The micro-kernel then
/// broadcasts each tile's MR positions (consecutive floats) and loads the weight's panel whole and
/// in order, instead of loading the unfolding's rows as unaligned vectors from scattered
/// offsets. Every output sums the same products in the same order as the channels-by-positions
/// GEMM over the materialised unfolding (im2col), so the two give the same bits.
struct PositionsJob {
    ptr: *const f32,
    offsets: *const isize,
    /// Grid positions per output row, and how many of them are outputs (the rest are computed,
    /// not stored).
    row: usize,
    valid: usize,
    w: *const PackedB,
    /// C: one plane of `plane` outputs per channel.
    c: *mut f32,
    plane: usize,
    bias: Option<*const f32>,
    relu: bool,
}
// SAFETY: as `Job`: the caller keeps everything alive until every task is done, and tasks write
// disjoint positions of C.
unsafe impl Sync for PositionsJob {}

/// C (channels x `plane`) = bias + W · the unfolding of a laid-out image, through ReLU when
/// `relu`, computed as `PositionsJob` says over grid positions 0..positions, split across the pool
/// by positions when `split` and the product is large enough.
///
/// # Safety
/// The layout must hold every position of every row plus a tile's height; `w` is Wᵀ (k x
/// channels) packed for this CPU's `isa()`; C must hold channels x plane floats, and positions
/// map inside a plane; `bias` one value per channel.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_positions(
    split: bool,
    positions: usize,
    (ptr, offsets, row, valid): (*const f32, *const isize, usize, usize),
    w: &PackedB,
    c: *mut f32,
    plane: usize,
    bias: Option<*const f32>,
    relu: bool,
) {
    let (k, o) = w.dims();
    assert!(w.isa == isa(), "packed_gemm: W was packed for another instruction set");
    if positions == 0 || k == 0 || o == 0 {
        return;
    }
    let job = PositionsJob { ptr, offsets, row, valid, w, c, plane, bias, relu };
    let threads = if split { parallel::gemm_threads(positions, o, k) } else { 1 };
    if threads <= 1 {
        run_positions(isa(), &job, 0..positions);
        return;
    }
    let chunk = chunk_len(positions, ROW_UNIT, threads);
    let task = |t: usize| {
        // SAFETY: as the caller's contract; chunks write disjoint positions of C.
        unsafe { run_positions(isa(), &job, t * chunk..((t + 1) * chunk).min(positions)) }
    };
    parallel::for_each_chunk(threads - 1, positions.div_ceil(chunk), &task);
}

/// Runs positions `rows` of a `PositionsJob` with `isa_`'s kernels.
///
/// # Safety
/// As `gemm_positions`, for these positions.
unsafe fn run_positions(isa_: Isa, job: &PositionsJob, rows: Range<usize>) {
    match isa_ {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => x86::positions_avx512(job, rows),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => x86::positions_avx2(job, rows),
        _ => rect_positions::<Portable, 4, 1>(job, rows),
    }
}

/// `rect` for a `PositionsJob`: k blocks of KC, then blocks of MC positions, each passed over
/// every panel of channels (a panel of the packed weight stays in L1 meanwhile).
#[inline(always)]
unsafe fn rect_positions<S: Lanes, const MR: usize, const NV: usize>(job: &PositionsJob, rows: Range<usize>) {
    let nr = NV * S::LANES;
    let w = &*job.w;
    let (k, o) = w.dims();
    let mut pc = 0;
    while pc < k {
        let kc = KC.min(k - pc);
        let (panels, offsets) = (w.data.as_ptr().add(pc * w.n_pad), job.offsets.add(pc));
        let add = pc > 0;
        let relu = job.relu && pc + kc == k;
        let mut ic = rows.start;
        while ic < rows.end {
            let mc = MC.min(rows.end - ic);
            let mut jr = 0;
            while jr < o {
                let width = nr.min(o - jr);
                let bias = job.bias.filter(|_| !add).map(|b| Bias::Cols(b.add(jr)));
                let b = panels.add(jr * kc);
                let mut ir = 0;
                while ir < mc {
                    let q = ic + ir;
                    let a = job.ptr.add(q);
                    let acc = micro::<S, MR, NV>(kc, |p, i| *a.offset(*offsets.add(p) + i as isize), |p| b.add(p * nr));
                    store_positions::<S, MR, NV>(&acc, job, q, MR.min(mc - ir), jr, width, add, bias, relu);
                    ir += MR;
                }
                jr += nr;
            }
            ic += mc;
        }
        pc += kc;
    }
}

/// The epilogue of a `PositionsJob` tile: row i (grid position q + i) goes to C's column
/// (q + i) / row · valid + (q + i) % row of each of the tile's channels, if it is an output.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn store_positions<S: Lanes, const MR: usize, const NV: usize>(
    acc: &[[S::V; NV]; MR],
    job: &PositionsJob,
    q: usize,
    mr: usize,
    jr: usize,
    width: usize,
    add: bool,
    bias: Option<Bias>,
    relu: bool,
) {
    let full = NV * S::LANES;
    let (mut y, mut x) = (q / job.row, q % job.row);
    if mr == MR && width == full && x + MR <= job.valid {
        // The tile's positions are consecutive outputs of one row: whole vectors along each
        // channel's plane, where the vector type has that store.
        let c = job.c.add(jr * job.plane + y * job.valid + x);
        if S::store_planes(acc, c, job.plane, add, bias, relu) {
            return;
        }
    }
    let mut buf = [0f32; 32];
    for (i, lanes) in acc.iter().enumerate().take(mr) {
        if x < job.valid {
            let dst = job.c.add(jr * job.plane + y * job.valid + x);
            if !add && width == full {
                // The first k block of a whole panel: bias and ReLU on the vectors, then plain
                // stores (a constant count, so the loop unrolls).
                for (v, &lane) in lanes.iter().enumerate() {
                    let p = buf.as_mut_ptr().add(v * S::LANES);
                    S::store(p, epilogue::<S>(lane, p, i, v, false, bias, relu));
                }
                for (j, &v) in buf.iter().enumerate().take(full) {
                    *dst.add(j * job.plane) = v;
                }
            } else {
                spill::<S, NV>(lanes, &mut buf);
                for (j, &v) in buf.iter().enumerate().take(width) {
                    finish(v, dst.add(j * job.plane), i, j, add, bias, relu);
                }
            }
        }
        (y, x) = if x + 1 == job.row { (y + 1, 0) } else { (y, x + 1) };
    }
}

/// What the micro-kernel needs of a vector type.
trait Lanes {
    type V: Copy;
    const LANES: usize;
    /// Whether the CPU running these kernels has AVX (for `pack_b`'s transposes).
    const AVX: bool;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// a * b + acc (fused where the instruction set has FMA).
    unsafe fn fma(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
    /// `relu` of every lane.
    unsafe fn relu(a: Self::V) -> Self::V;
    /// Writes a whole tile whose MR rows are consecutive outputs: channel j's MR values to
    /// `c + j * plane..`, added to the values there (`add`) or to the bias (one per channel, as
    /// `Bias::Cols`), then through ReLU when `relu`: `finish`'s values, written a vector at a time.
    /// False, writing nothing, where this vector type has no such store.
    #[inline(always)]
    unsafe fn store_planes<const MR: usize, const NV: usize>(
        _acc: &[[Self::V; NV]; MR],
        _c: *mut f32,
        _plane: usize,
        _add: bool,
        _bias: Option<Bias>,
        _relu: bool,
    ) -> bool {
        false
    }
}

/// max(x, 0) as compute/unary.rs's ReLU: negative values become 0, NaN and -0.0 pass through.
#[inline(always)]
fn relu(x: f32) -> f32 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// The Goto loops over one rectangle of C: blocks of NC columns, KC of k, MC rows, then MR x NR
/// tiles (NR = NV vectors). A is read in place when its rows are contiguous in k (as MLAS does:
/// MR row pointers, each read forward), else packed into strips.
#[inline(always)]
unsafe fn rect<S: Lanes, const MR: usize, const NV: usize>(
    job: &Job,
    rows: Range<usize>,
    cols: Range<usize>,
    apack: &mut [f32],
    bpack: &mut [f32],
) {
    let nr = NV * S::LANES;
    let a_in_place = job.a.cs == 1;
    let mut jc = cols.start;
    while jc < cols.end {
        let nc = NC.min(cols.end - jc);
        let mut pc = 0;
        while pc < job.k {
            let kc = KC.min(job.k - pc);
            let panels = match job.b {
                Source::Matrix(b) => {
                    pack_b(b, pc, kc, jc, nc, nr, S::AVX, bpack);
                    bpack.as_ptr()
                }
                Source::Unfolded { ptr, geo } => {
                    pack_unfolded(ptr, &geo, pc, kc, jc, nc, nr, bpack);
                    bpack.as_ptr()
                }
                // jc is a multiple of nr (ranges are cut at multiples of 64 columns).
                Source::Packed(p) => (*p).data.as_ptr().add(pc * (*p).n_pad + jc * kc),
            };
            let mut ic = rows.start;
            while ic < rows.end {
                let mc = MC.min(rows.end - ic);
                if !a_in_place {
                    pack_a(job.a, ic, mc, pc, kc, MR, apack);
                }
                let add = job.accumulate || pc > 0;
                let bias = job.bias.filter(|_| !add);
                let relu = job.relu && pc + kc == job.k;
                let mut jr = 0;
                while jr < nc {
                    let (col, width) = (jc + jr, nr.min(nc - jr));
                    let b = panels.add(jr * kc);
                    let mut ir = 0;
                    while ir < mc {
                        let mr = MR.min(mc - ir);
                        let c = job.c.offset((ic + ir) as isize * job.ldc + col as isize);
                        // The tile of C is read or written only after kc steps; ask for it now,
                        // while they run (a later k block finds it out of L2 otherwise). Wrapping
                        // arithmetic: an edge tile's last column may lie past C's end.
                        for i in 0..mr {
                            let row = c.wrapping_offset(i as isize * job.ldc);
                            prefetch(row);
                            prefetch(row.wrapping_add(nr - 1));
                        }
                        let a = if a_in_place {
                            // Rows past the edge repeat the last one; their sums are not stored.
                            let row = |i: usize| job.a.ptr.offset((ic + ir + i.min(mr - 1)) as isize * job.a.rs + pc as isize);
                            ARows::InPlace(std::array::from_fn(row))
                        } else {
                            ARows::Packed(apack.as_ptr().add(ir * kc))
                        };
                        let acc = tile::<S, MR, NV>(kc, a, |p| b.add(p * nr));
                        let bias = bias.map(|b| b.at(ic + ir, col));
                        store::<S, MR, NV>(&acc, c, job.ldc, mr, width, add, bias, relu);
                        ir += MR;
                    }
                    jr += nr;
                }
                ic += mc;
            }
            pc += kc;
        }
        jc += nc;
    }
}

/// Where a tile's MR rows of A are: MR row pointers (A read in place), or a packed strip.
enum ARows<const MR: usize> {
    InPlace([*const f32; MR]),
    Packed(*const f32),
}

/// `micro` for either kind of A rows.
#[inline(always)]
unsafe fn tile<S: Lanes, const MR: usize, const NV: usize>(kc: usize, a: ARows<MR>, b: impl Fn(usize) -> *const f32) -> [[S::V; NV]; MR] {
    match a {
        ARows::InPlace(rows) => micro::<S, MR, NV>(kc, |p, i| *rows[i].add(p), b),
        ARows::Packed(strip) => micro::<S, MR, NV>(kc, |p, i| *strip.add(p * MR + i), b),
    }
}

/// The MR x NR tile of products of A's rows and B's rows (kc x NR): `a(p, i)` is row i's value
/// at step p of the k block, read from a packed strip or from the row in place; `b(p)` points
/// at B's row p (in a panel, or shifted in place).
#[inline(always)]
unsafe fn micro<S: Lanes, const MR: usize, const NV: usize>(
    kc: usize,
    a: impl Fn(usize, usize) -> f32,
    b: impl Fn(usize) -> *const f32,
) -> [[S::V; NV]; MR] {
    let mut acc = [[S::zero(); NV]; MR];
    for p in 0..kc {
        let row = b(p);
        let bv: [S::V; NV] = std::array::from_fn(|v| S::load(row.add(v * S::LANES)));
        for (i, row) in acc.iter_mut().enumerate() {
            let av = S::splat(a(p, i));
            for (r, &bw) in row.iter_mut().zip(&bv) {
                *r = S::fma(av, bw, *r);
            }
        }
    }
    acc
}

/// Asks for the cache line holding `p` (a hint: never faults).
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint that does not access memory architecturally.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Writes (or adds to C, or to the `bias`) the top-left mr x nr of a tile to C, through
/// ReLU when `relu`. Edge tiles go through a buffer and are added with the same single rounding,
/// so their values equal a full tile's.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn store<S: Lanes, const MR: usize, const NV: usize>(
    acc: &[[S::V; NV]; MR],
    c: *mut f32,
    ldc: isize,
    mr: usize,
    nr: usize,
    add: bool,
    bias: Option<Bias>,
    relu: bool,
) {
    let full = NV * S::LANES;
    if mr == MR && nr == full {
        for (i, row) in acc.iter().enumerate() {
            let ci = c.offset(i as isize * ldc);
            for (v, &x) in row.iter().enumerate() {
                let p = ci.add(v * S::LANES);
                S::store(p, epilogue::<S>(x, p, i, v, add, bias, relu));
            }
        }
        return;
    }
    let mut buf = [0f32; 32];
    for (i, row) in acc.iter().enumerate().take(mr) {
        spill::<S, NV>(row, &mut buf);
        let ci = c.offset(i as isize * ldc);
        for (j, &x) in buf.iter().enumerate().take(nr) {
            finish(x, ci.add(j), i, j, add, bias, relu);
        }
    }
}

/// Vector v of row i of a full tile through the epilogue: added to C's old value at `p` (when
/// `add`) or to the bias, then through ReLU when `relu`. `finish` is the same for one value.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn epilogue<S: Lanes>(x: S::V, p: *const f32, i: usize, v: usize, add: bool, bias: Option<Bias>, relu: bool) -> S::V {
    let x = match bias {
        _ if add => S::add(S::load(p), x),
        Some(Bias::Rows(b)) => S::add(S::splat(*b.add(i)), x),
        Some(Bias::Cols(b)) => S::add(S::load(b.add(v * S::LANES)), x),
        None => x,
    };
    if relu {
        S::relu(x)
    } else {
        x
    }
}

/// One row of a tile's accumulators into `buf`.
#[inline(always)]
unsafe fn spill<S: Lanes, const NV: usize>(lanes: &[S::V; NV], buf: &mut [f32; 32]) {
    for (v, &x) in lanes.iter().enumerate() {
        S::store(buf.as_mut_ptr().add(v * S::LANES), x);
    }
}

/// Writes the sum `x` of row i, column j of a tile to `dst` in the epilogue: added to `dst`'s
/// old value or to the bias, then through ReLU; the single rounding of a full tile's vectors.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn finish(x: f32, dst: *mut f32, i: usize, j: usize, add: bool, bias: Option<Bias>, relu: bool) {
    let x = match bias {
        _ if add => *dst + x,
        Some(Bias::Rows(b)) => *b.add(i) + x,
        Some(Bias::Cols(b)) => *b.add(j) + x,
        None => x,
    };
    *dst = if relu { self::relu(x) } else { x };
}

/// Copies A's rows ic..ic+mc, columns pc..pc+kc into strips of MR rows, each kc x MR (k-major),
/// rows past mc as zeros.
#[inline(always)]
unsafe fn pack_a(a: Operand, ic: usize, mc: usize, pc: usize, kc: usize, mr: usize, dst: &mut [f32]) {
    let mut strip = 0;
    while strip < mc {
        let rows = mr.min(mc - strip);
        let out = &mut dst[strip * kc..(strip + mr) * kc];
        for r in 0..mr {
            if r >= rows {
                for p in 0..kc {
                    out[p * mr + r] = 0.0;
                }
                continue;
            }
            let src = a.ptr.offset((ic + strip + r) as isize * a.rs + pc as isize * a.cs);
            for p in 0..kc {
                out[p * mr + r] = *src.offset(p as isize * a.cs);
            }
        }
        strip += mr;
    }
}

/// Copies B's rows pc..pc+kc, columns jc..jc+nc into panels of nr columns, each kc x nr
/// (row-major), columns past nc as zeros. With `avx` (the CPU has it), a B whose columns are
/// contiguous (a transposed operand: a weight as wᵀ, unfolded patches as a gradient's colsᵀ) is
/// transposed 8 x 8 at a time in registers instead of gathered one element at a time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_b(b: Operand, pc: usize, kc: usize, jc: usize, nc: usize, nr: usize, avx: bool, dst: &mut [f32]) {
    let mut panel = 0;
    while panel < nc {
        let cols = nr.min(nc - panel);
        let out = &mut dst[panel * kc..(panel + nr) * kc];
        let origin = b.ptr.offset(pc as isize * b.rs + (jc + panel) as isize * b.cs);
        // Rows (and columns) done in 8 x 8 blocks; the rest one element at a time below.
        let (mut rows_done, cols_done) = (0, if avx && b.rs == 1 && b.cs != 1 { cols / 8 * 8 } else { 0 });
        if cols_done > 0 {
            rows_done = kc / 8 * 8;
            for p in (0..rows_done).step_by(8) {
                for j in (0..cols_done).step_by(8) {
                    #[cfg(target_arch = "x86_64")]
                    x86::transpose8(origin.offset(p as isize + j as isize * b.cs), b.cs, out.as_mut_ptr().add(p * nr + j), nr);
                }
            }
        }
        for p in 0..kc {
            let src = origin.offset(p as isize * b.rs);
            let row = &mut out[p * nr..(p + 1) * nr];
            if b.cs == 1 {
                std::ptr::copy_nonoverlapping(src, row.as_mut_ptr(), cols);
            } else {
                let first = if p < rows_done { cols_done } else { 0 };
                for (j, x) in row.iter_mut().enumerate().take(cols).skip(first) {
                    *x = *src.offset(j as isize * b.cs);
                }
            }
            row[cols..].fill(0.0);
        }
        panel += nr;
    }
}

/// `pack_b` for an unfolded image: each row pc + p is unfolded once for all nc positions,
/// straight into its row of every panel (conv.rs `unfold_panels`), so `unfold`'s per-output-row
/// work is amortised over the row, not paid per panel, and no line buffer is copied again.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_unfolded(img: *const f32, geo: &Geometry, pc: usize, kc: usize, jc: usize, nc: usize, nr: usize, dst: &mut [f32]) {
    let img = std::slice::from_raw_parts(img, geo.c * geo.h * geo.w);
    for p in 0..kc {
        unfold_panels(geo, img, pc + p, jc, nc, nr, kc, p, dst);
    }
}

/// Eight lanes of plain Rust (the compiler vectorises them for the baseline target), multiply
/// and add rounded separately.
struct Portable;

impl Lanes for Portable {
    type V = [f32; 8];
    const LANES: usize = 8;
    const AVX: bool = false;
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    unsafe fn load(p: *const f32) -> [f32; 8] {
        std::ptr::read_unaligned(p as *const [f32; 8])
    }
    unsafe fn store(p: *mut f32, v: [f32; 8]) {
        std::ptr::write_unaligned(p as *mut [f32; 8], v)
    }
    unsafe fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] + b[l])
    }
    unsafe fn fma(a: [f32; 8], b: [f32; 8], acc: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|l| a[l] * b[l] + acc[l])
    }
    unsafe fn relu(a: [f32; 8]) -> [f32; 8] {
        a.map(relu)
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{rect, rect_positions, Bias, Job, Lanes, PositionsJob};
    use std::arch::x86_64::*;
    use std::ops::Range;

    pub struct Avx2Fma;

    impl Lanes for Avx2Fma {
        type V = __m256;
        const LANES: usize = 8;
        const AVX: bool = true;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            _mm256_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            _mm256_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            _mm256_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            _mm256_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            _mm256_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fma(a: __m256, b: __m256, acc: __m256) -> __m256 {
            _mm256_fmadd_ps(a, b, acc)
        }
        #[inline(always)]
        unsafe fn relu(a: __m256) -> __m256 {
            // Clears the lanes below zero (NaN and -0.0 compare false and pass through).
            _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_setzero_ps()), a)
        }
        /// The 6 x 8 blocks of a 6-row tile transposed in registers: positions 0-3 of each
        /// channel as one 4-lane vector, positions 4-5 as a 2-lane one (the scalar stores this
        /// replaces were a sixth of the stem convolution's GEMM).
        #[inline(always)]
        unsafe fn store_planes<const MR: usize, const NV: usize>(
            acc: &[[__m256; NV]; MR],
            c: *mut f32,
            plane: usize,
            add: bool,
            bias: Option<Bias>,
            relu: bool,
        ) -> bool {
            if MR != 6 {
                return false;
            }
            // v indexes the inner array of every row, not one array.
            #[allow(clippy::needless_range_loop)]
            for v in 0..NV {
                let r: [__m256; 6] = std::array::from_fn(|i| match bias {
                    Some(Bias::Cols(b)) if !add => _mm256_add_ps(_mm256_loadu_ps(b.add(v * 8)), acc[i][v]),
                    _ => acc[i][v],
                });
                let (t0, t1) = (_mm256_unpacklo_ps(r[0], r[1]), _mm256_unpackhi_ps(r[0], r[1]));
                let (t2, t3) = (_mm256_unpacklo_ps(r[2], r[3]), _mm256_unpackhi_ps(r[2], r[3]));
                // quads[l]: channel l's positions 0-3 in the low half, channel l + 4's in the high.
                let quads = [
                    _mm256_shuffle_ps::<0x44>(t0, t2),
                    _mm256_shuffle_ps::<0xEE>(t0, t2),
                    _mm256_shuffle_ps::<0x44>(t1, t3),
                    _mm256_shuffle_ps::<0xEE>(t1, t3),
                ];
                // pairs[0]: positions 4-5 of channels 0, 1 | 4, 5; pairs[1]: of 2, 3 | 6, 7.
                let pairs = [_mm256_unpacklo_ps(r[4], r[5]), _mm256_unpackhi_ps(r[4], r[5])];
                for l in 0..8 {
                    let dst = c.add((v * 8 + l) * plane);
                    let (quad, halves) = if l < 4 {
                        (_mm256_castps256_ps128(quads[l]), _mm256_castps256_ps128(pairs[l / 2]))
                    } else {
                        (_mm256_extractf128_ps::<1>(quads[l - 4]), _mm256_extractf128_ps::<1>(pairs[(l - 4) / 2]))
                    };
                    let mut pair = if l % 2 == 0 { halves } else { _mm_movehl_ps(halves, halves) };
                    let mut quad = quad;
                    if add {
                        quad = _mm_add_ps(_mm_loadu_ps(dst), quad);
                        pair = _mm_add_ps(_mm_castsi128_ps(_mm_loadl_epi64(dst.add(4).cast())), pair);
                    }
                    if relu {
                        quad = _mm_andnot_ps(_mm_cmplt_ps(quad, _mm_setzero_ps()), quad);
                        pair = _mm_andnot_ps(_mm_cmplt_ps(pair, _mm_setzero_ps()), pair);
                    }
                    _mm_storeu_ps(dst, quad);
                    _mm_storel_epi64(dst.add(4).cast(), _mm_castps_si128(pair));
                }
            }
            true
        }
    }

    pub struct Avx512;

    impl Lanes for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        const AVX: bool = true;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            _mm512_setzero_ps()
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            _mm512_loadu_ps(p)
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            _mm512_storeu_ps(p, v)
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn fma(a: __m512, b: __m512, acc: __m512) -> __m512 {
            _mm512_fmadd_ps(a, b, acc)
        }
        #[inline(always)]
        unsafe fn relu(a: __m512) -> __m512 {
            // Zeroes the lanes below zero (NaN and -0.0 compare false and pass through).
            let neg = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_setzero_ps());
            _mm512_mask_mov_ps(a, neg, _mm512_setzero_ps())
        }
    }

    /// dst[p * ld + j] = src[j * cs + p] for p, j < 8: an 8 x 8 block of a B with contiguous
    /// columns, transposed into panel rows (unpack, shuffle, then swap 128-bit halves).
    ///
    /// # Safety
    /// The CPU has AVX; src addresses 8 runs of 8 floats cs apart, dst 8 runs of 8 floats ld apart.
    #[target_feature(enable = "avx")]
    pub unsafe fn transpose8(src: *const f32, cs: isize, dst: *mut f32, ld: usize) {
        let r: [__m256; 8] = std::array::from_fn(|j| _mm256_loadu_ps(src.offset(j as isize * cs)));
        let t = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        for i in 0..4 {
            _mm256_storeu_ps(dst.add(i * ld), _mm256_permute2f128_ps::<0x20>(u[i], u[i + 4]));
            _mm256_storeu_ps(dst.add((i + 4) * ld), _mm256_permute2f128_ps::<0x31>(u[i], u[i + 4]));
        }
    }

    /// 6 x 16 tiles: 12 accumulators + 2 B vectors + 1 broadcast of the 16 ymm registers.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn rect_avx2(job: &Job, rows: Range<usize>, cols: Range<usize>, apack: &mut [f32], bpack: &mut [f32]) {
        rect::<Avx2Fma, 6, 2>(job, rows, cols, apack, bpack)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn positions_avx2(job: &PositionsJob, rows: Range<usize>) {
        rect_positions::<Avx2Fma, 6, 2>(job, rows)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn positions_avx512(job: &PositionsJob, rows: Range<usize>) {
        rect_positions::<Avx512, 8, 2>(job, rows)
    }

    /// 8 x 32 tiles: 16 accumulators + 2 B vectors + 1 broadcast of the 32 zmm registers.
    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn rect_avx512(job: &Job, rows: Range<usize>, cols: Range<usize>, apack: &mut [f32], bpack: &mut [f32]) {
        rect::<Avx512, 8, 2>(job, rows, cols, apack, bpack)
    }
}
