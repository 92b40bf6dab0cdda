//! Which kernels the run-time CPU dispatch picks on this machine, that the `INFER_CPU` cap lowers
//! it, and that every kernel set computes the right product.
//!
//! The dispatch (`simd::isa`) takes AVX-512 when `is_x86_feature_detected!("avx512f")` holds, else
//! AVX2+FMA, else portable code. valgrind emulates no AVX-512 and its synthetic CPUID reports
//! none, so under valgrind the AVX2 kernels run. .ci/run runs this file with valgrind as the cargo
//! runner and `INFER_EXPECT_NO_AVX512=1`: the first test proves the dispatch saw no AVX-512, the
//! others that the kernels picked (also on the thread pool) give the right numbers; an AVX-512
//! instruction would stop valgrind with SIGILL.

use infer::kernels::linear_nt::{linear_nt_into, linear_nt_with, Epilogue, Rows};
use infer::kernels::simd::{as_uninit, capped, detected, isa, parse_cap, Isa};
use infer::{creation, ops, DType};

/// The pool's thread count is global: tests that set it hold this, so that another test's count
/// cannot change between theirs and the work they run under it (cargo runs tests concurrently).
fn thread_count_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[test]
fn dispatch_reports_the_cpu_features_it_sees() {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512f = is_x86_feature_detected!("avx512f");
        let fma = is_x86_feature_detected!("fma");
        let avx2 = is_x86_feature_detected!("avx2");
        let kernels = if avx512f {
            "AVX-512"
        } else if fma {
            "FMA/AVX2"
        } else {
            "scalar"
        };
        let linear = isa();
        println!("avx512f: {avx512f}, avx2: {avx2}, fma: {fma}; the CPU offers {kernels}, the dispatch picks {}", linear.name());
        let want = if avx512f {
            "AVX-512"
        } else if avx2 && fma {
            "AVX2+FMA"
        } else {
            "portable"
        };
        assert_eq!(detected().name(), want, "the dispatch disagrees with the CPU features");
        let cap = std::env::var("INFER_CPU").ok().and_then(|v| parse_cap(&v));
        assert_eq!(linear, capped(detected(), cap), "the dispatch ignores INFER_CPU");
        if std::env::var_os("INFER_EXPECT_NO_AVX512").is_some() {
            assert!(!avx512f, "INFER_EXPECT_NO_AVX512 is set (valgrind) but avx512f is detected");
        }
    }
}

#[test]
fn the_cap_only_lowers_and_ignores_unknown_values() {
    assert_eq!(parse_cap("avx2"), Some(Isa::Avx2Fma));
    assert_eq!(parse_cap(" AVX512 "), Some(Isa::Avx512));
    assert_eq!(parse_cap("baseline"), Some(Isa::Portable));
    for junk in ["", "sse4", "avx-2", "native"] {
        assert_eq!(parse_cap(junk), None, "{junk:?}");
    }
    assert_eq!(capped(Isa::Avx512, Some(Isa::Avx2Fma)), Isa::Avx2Fma);
    assert_eq!(capped(Isa::Avx512, Some(Isa::Portable)), Isa::Portable);
    assert_eq!(capped(Isa::Avx2Fma, Some(Isa::Avx512)), Isa::Avx2Fma, "a cap above the CPU is no cap");
    assert_eq!(capped(Isa::Avx2Fma, None), Isa::Avx2Fma);
}

/// The cap is read once per process, so each value runs this test binary again (the child runs
/// `cap_child`, which checks the dispatch and a product under the cap it was given).
#[test]
fn the_environment_variable_caps_every_dispatch() {
    if std::env::var_os("INFER_CAP_CHILD").is_some() {
        return;
    }
    for value in ["baseline", "avx2", "avx512", "bogus"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "cap_child", "--nocapture", "--test-threads=1"])
            .env("INFER_CPU", value)
            .env("INFER_CAP_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "INFER_CPU={value}: {text}{}", String::from_utf8_lossy(&out.stderr));
        let want = capped(detected(), parse_cap(value));
        assert!(text.contains(&format!("dispatch: {}", want.name())), "INFER_CPU={value}: {text}");
    }
}

#[test]
fn cap_child() {
    if std::env::var_os("INFER_CAP_CHILD").is_none() {
        return;
    }
    println!("dispatch: {}", isa().name());
    matmul_matches_a_naive_product_across_kernel_edges();
    linear_matches_a_naive_product_across_kernel_edges();
}

#[path = "support/values.rs"]
mod support_values;
use support_values::values;

#[test]
fn matmul_matches_a_naive_product_across_kernel_edges() {
    // Sizes around the kernels' register-block edges, a GEMV, and sizes above the threshold at
    // which the product is split across the thread pool; the last operand pair is transposed.
    let shapes = [(1, 1, 1), (3, 5, 7), (17, 33, 9), (31, 1, 64), (64, 64, 64), (128, 96, 80), (2, 1000, 3), (70, 130, 50)];
    for (i, &(m, k, n)) in shapes.iter().enumerate() {
        let a = values(m * k, 2 * i as u64);
        let b = values(k * n, 2 * i as u64 + 1);
        let ta = creation::from_slice(&a, &[m, k]).unwrap();
        let tb = if i + 1 == shapes.len() {
            let bt: Vec<f32> = (0..n * k).map(|j| b[(j % k) * n + j / k]).collect();
            ops::transpose(&creation::from_slice(&bt, &[n, k]).unwrap(), 0, 1).unwrap()
        } else {
            creation::from_slice(&b, &[k, n]).unwrap()
        };
        let got = ops::matmul(&ta, &tb).unwrap();
        assert_eq!(got.shape(), &[m, n]);
        assert_eq!(got.dtype(), DType::F32);
        let got = got.to_vec_f32();
        for r in 0..m {
            for c in 0..n {
                let want: f64 = (0..k).map(|j| a[r * k + j] as f64 * b[j * n + c] as f64).sum();
                let g = got[r * n + c] as f64;
                assert!((g - want).abs() <= 1e-4 * (1.0 + k as f64), "({m}x{k})({k}x{n})[{r},{c}] = {g}, expected {want}");
            }
        }
    }
}

#[test]
fn linear_matches_a_naive_product_across_kernel_edges() {
    // nn.Linear's layout goes to the dot-product kernels: tile and vector edges, batch 1, and a
    // size split across the thread pool.
    let shapes = [(1, 10, 784), (3, 5, 7), (17, 9, 33), (64, 70, 100), (5, 300, 1500)];
    for (i, &(m, n, k)) in shapes.iter().enumerate() {
        let x = values(m * k, 3 * i as u64);
        let w = values(n * k, 3 * i as u64 + 1);
        let b = values(n, 3 * i as u64 + 2);
        let got = ops::linear(
            &creation::from_slice(&x, &[m, k]).unwrap(),
            &creation::from_slice(&w, &[n, k]).unwrap(),
            Some(&creation::from_slice(&b, &[n]).unwrap()),
        )
        .unwrap()
        .to_vec_f32();
        for r in 0..m {
            for c in 0..n {
                let want: f64 = b[c] as f64 + (0..k).map(|j| x[r * k + j] as f64 * w[c * k + j] as f64).sum::<f64>();
                let g = got[r * n + c] as f64;
                assert!((g - want).abs() <= 1e-4 * (1.0 + k as f64), "linear {m}x{k} by {n}: [{r},{c}] = {g}, expected {want}");
            }
        }
    }
}

fn isas() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    if detected() != Isa::Portable {
        v.push(Isa::Avx2Fma);
    }
    if detected() == Isa::Avx512 {
        v.push(Isa::Avx512);
    }
    v
}

#[test]
fn every_kernel_matches_a_naive_product_across_tile_and_block_edges() {
    // Edges of the 4 x 4, 1 x 8 and 3 x 4 tiles, of 8- and 16-lane vectors, of KC and NC, strided
    // rows (stride > k), and batch 1.
    let shapes = [(1, 1, 1), (1, 10, 784), (5, 3, 17), (7, 9, 33), (13, 70, 600), (64, 10, 256), (2, 65, 1030), (3, 5, 2100)];
    for (s, &(m, n, k)) in shapes.iter().enumerate() {
        let (ldx, ldw) = (k + s % 3, k + 2 * (s % 2));
        let x = values(m * ldx, 2 * s as u64);
        let w = values(n * ldw, 2 * s as u64 + 1);
        let bias = values(n, 99);
        for isa_ in isas() {
            for with_bias in [false, true] {
                // with_bias also turns the fused ReLU on.
                let mut out = vec![f32::NAN; m * n];
                let epilogue = Epilogue { bias: with_bias.then_some(&bias[..]), relu: with_bias };
                linear_nt_with(isa_, m, n, k, Rows { data: &x, stride: ldx }, Rows { data: &w, stride: ldw }, epilogue, &mut out);
                for i in 0..m {
                    for j in 0..n {
                        let mut want: f64 = (0..k).map(|p| x[i * ldx + p] as f64 * w[j * ldw + p] as f64).sum();
                        if with_bias {
                            want = (want + bias[j] as f64).max(0.0); // no NaN here
                        }
                        let got = out[i * n + j] as f64;
                        assert!((got - want).abs() <= 1e-4 * (1.0 + want.abs()), "{isa_:?} {m}x{n}x{k} at ({i},{j}): {got} vs {want}");
                    }
                }
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let _alone = thread_count_lock();
    // Large enough to be split across the pool, once by columns and once by rows.
    for &(m, n, k) in &[(20, 300, 700), (400, 40, 300)] {
        let x = values(m * k, 5);
        let w = values(n * k, 6);
        let run = |threads| {
            infer::parallel::set_num_threads(threads);
            let mut out = Vec::with_capacity(m * n);
            linear_nt_into(m, n, k, Rows { data: &x, stride: k }, Rows { data: &w, stride: k }, Epilogue::default(), &mut out);
            out
        };
        let one = run(1);
        let three = run(3);
        infer::parallel::set_num_threads(0);
        assert!(one.iter().zip(&three).all(|(a, b)| a.to_bits() == b.to_bits()), "{m}x{n}x{k}: 1 and 3 threads differ");
    }
}

#[test]
fn an_output_does_not_depend_on_the_tile_that_computes_it() {
    // A row alone takes the 1 x 8 tiles, in a batch of 7 the 4 x 4 (3 x 4) tiles and their edges;
    // 13 columns leave edge tiles of 1 column, k = 1100 two k blocks with a vector tail. The
    // transposed horizontal sums of full tiles must add in the same order as single sums.
    let (m, n, k) = (7, 13, 1100);
    let x = values(m * k, 21);
    let w = values(n * k, 22);
    let bias = values(n, 23);
    for isa_ in isas() {
        let epilogue = Epilogue { bias: Some(&bias), relu: true };
        let mut batch = vec![0f32; m * n];
        linear_nt_with(isa_, m, n, k, Rows { data: &x, stride: k }, Rows { data: &w, stride: k }, epilogue, &mut batch);
        for r in 0..m {
            let mut alone = vec![0f32; n];
            linear_nt_with(isa_, 1, n, k, Rows { data: &x[r * k..], stride: k }, Rows { data: &w, stride: k }, epilogue, &mut alone);
            let same = alone.iter().zip(&batch[r * n..(r + 1) * n]).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "{isa_:?}: row {r} alone differs from row {r} of the batch");
        }
    }
}

#[test]
fn linear_reads_broadcast_rows() {
    // An expanded input repeats one row with row stride 0; the kernels read it in place.
    let (n, k) = (9, 40);
    let row = values(k, 11);
    let w = values(n * k, 12);
    let x = ops::expand(&creation::from_slice(&row, &[1, k]).unwrap(), &[5, k as i64]).unwrap();
    let w = creation::from_slice(&w, &[n, k]).unwrap();
    let got = ops::linear(&x, &w, None).unwrap().to_vec_f32();
    let want = ops::linear(&creation::from_slice(&row, &[1, k]).unwrap(), &w, None).unwrap().to_vec_f32();
    for r in 0..5 {
        assert_eq!(&got[r * n..(r + 1) * n], &want[..], "row {r} of a broadcast input");
    }
}

#[test]
fn elementwise_and_row_kernels_do_not_depend_on_threads_or_layout() {
    let _alone = thread_count_lock();
    // 300 x 1024 is above the size at which they split across the pool (elementwise::PARALLEL_MIN);
    // log_softmax over dim 0 takes the column path.
    let (rows, cols) = (300, 1024);
    let data: Vec<f32> = values(rows * cols, 21).iter().map(|v| v * 12.0).collect();
    let x = creation::from_slice(&data, &[rows, cols]).unwrap();
    let (w, b) = (creation::from_slice(&values(cols, 22), &[cols]).unwrap(), creation::from_slice(&values(cols, 23), &[cols]).unwrap());
    use ops::UnaryOp::*;
    let unary = [Exp, Log, Sigmoid, Tanh, Gelu, Silu, Rsqrt, Sin, Cos, Abs, GeluTanh];
    let run = |threads| {
        infer::parallel::set_num_threads(threads);
        let mut outs: Vec<Vec<f32>> = unary.iter().map(|&op| ops::unary(&x, op).unwrap().to_vec_f32()).collect();
        outs.push(ops::softmax(&x, -1).unwrap().to_vec_f32());
        outs.push(ops::log_softmax(&x, 0).unwrap().to_vec_f32());
        outs.push(ops::layer_norm(&x, &[cols], Some(&w), Some(&b), 1e-5).unwrap().to_vec_f32());
        outs
    };
    let one = run(1);
    let three = run(3);
    infer::parallel::set_num_threads(0);
    let same = |a: &[f32], b: &[f32]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    for (i, (a, b)) in one.iter().zip(&three).enumerate() {
        assert!(same(a, b), "result {i}: 1 and 3 threads differ");
    }
    // A transposed (strided) input takes the scalar path of the same functions: the same bits.
    let xt = ops::transpose(&ops::contiguous(&ops::transpose(&x, 0, 1).unwrap()).unwrap(), 0, 1).unwrap();
    assert!(!xt.is_contiguous());
    for (i, &op) in unary.iter().enumerate() {
        let strided = ops::contiguous(&ops::unary(&xt, op).unwrap()).unwrap().to_vec_f32();
        assert!(same(&strided, &one[i]), "{op:?}: strided and contiguous inputs differ");
    }
    // and the values are the functions': spot checks against f64
    let exp = &one[0];
    for i in (0..data.len()).step_by(997) {
        let want = (data[i] as f64).exp();
        assert!((exp[i] as f64 - want).abs() <= 2.5e-7 * want, "exp({})", data[i]);
    }
}

#[test]
fn packed_gemm_matches_a_naive_product_on_every_kernel_and_thread_count() {
    use infer::kernels::packed_gemm::{gemm_with, Operand};
    // Edges of the 6 x 16, 8 x 32 and 4 x 8 tiles, of KC (256), MC (72) and NC (512); A
    // transposed (column-major) in odd cases, B read through a column stride in some.
    let shapes = [(1, 1, 1), (7, 17, 5), (13, 33, 300), (75, 530, 260), (6, 16, 256), (80, 40, 513), (2, 1100, 3)];
    for (s, &(m, n, k)) in shapes.iter().enumerate() {
        let a = values(m * k, 40 + s as u64);
        let b = values(k * n * 2, 50 + s as u64);
        let c0 = values(m * n, 60 + s as u64);
        let (a_rs, a_cs) = if s % 2 == 1 { (1, m as isize) } else { (k as isize, 1) };
        let (b_rs, b_cs) = if s % 3 == 2 { (1, 2 * k as isize) } else { (n as isize, 1) };
        let at = |i: usize, p: usize| a[i * a_rs as usize + p * a_cs as usize] as f64;
        let bt = |p: usize, j: usize| b[p * b_rs as usize + j * b_cs as usize] as f64;
        // The exact product, once per shape (this test also runs under valgrind).
        let exact: Vec<f64> = (0..m * n).map(|ij| (0..k).map(|p| at(ij / n, p) * bt(p, ij % n)).sum()).collect();
        let mut first: Option<Vec<f32>> = None;
        for isa_ in isas() {
            for threads in [1, 3] {
                for accumulate in [false, true] {
                    let mut c = c0.clone();
                    let (ao, bo) = (Operand { ptr: a.as_ptr(), rs: a_rs, cs: a_cs }, Operand { ptr: b.as_ptr(), rs: b_rs, cs: b_cs });
                    // SAFETY: the operands address m x k, k x n and m x n matrices inside their vectors.
                    unsafe { gemm_with(isa_, threads, m, n, k, c.as_mut_ptr(), n as isize, accumulate, ao, bo) };
                    for i in 0..m {
                        for j in 0..n {
                            let base = if accumulate { c0[i * n + j] as f64 } else { 0.0 };
                            let want = base + exact[i * n + j];
                            let got = c[i * n + j] as f64;
                            assert!((got - want).abs() <= 1e-5 * (1.0 + k as f64), "{isa_:?} {m}x{n}x{k} at ({i},{j}): {got} vs {want}");
                        }
                    }
                    if accumulate {
                        continue;
                    }
                    match (&first, threads) {
                        (Some(one), 3) => assert!(
                            one.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "{isa_:?} {m}x{n}x{k}: 1 and 3 threads differ"
                        ),
                        _ => first = Some(c),
                    }
                }
            }
            first = None;
        }
    }
}

/// A B packed in advance (a linear weight as wᵀ, its columns contiguous) gives the bits of the
/// same product packed per call, with the column bias and ReLU of the epilogue equal to a bias
/// filled in first and a ReLU pass after; on this CPU's kernels, one and several threads.
#[test]
fn prepacked_b_gives_the_bits_of_packing_per_call() {
    let _alone = thread_count_lock();
    use infer::kernels::packed_gemm::{gemm_prepacked, gemm_with, Operand, PackedB};
    for (s, &(m, n, k)) in [(16, 37, 40), (64, 256, 784), (75, 530, 260), (6, 16, 513)].iter().enumerate() {
        let x = values(m * k, 70 + s as u64);
        let w = values(n * k, 80 + s as u64);
        let bias = values(n, 90 + s as u64);
        let (a, b) = (Operand { ptr: x.as_ptr(), rs: k as isize, cs: 1 }, Operand { ptr: w.as_ptr(), rs: 1, cs: k as isize });
        // SAFETY: `b` addresses w as a k x n matrix.
        let packed = unsafe { PackedB::new(isa(), k, n, b) }.unwrap();
        for threads in [1, 2] {
            infer::parallel::set_num_threads(threads);
            for relu in [false, true] {
                let mut want: Vec<f32> = (0..m * n).map(|ij| bias[ij % n]).collect();
                // SAFETY: the operands address m x k, k x n and m x n matrices inside their vectors.
                unsafe { gemm_with(isa(), threads, m, n, k, want.as_mut_ptr(), n as isize, true, a, b) };
                if relu {
                    want.iter_mut().for_each(|v| *v = if *v < 0.0 { 0.0 } else { *v });
                }
                let mut got = vec![f32::NAN; m * n];
                // SAFETY: as above; `packed` was packed for isa() and bias holds n values.
                unsafe { gemm_prepacked(m, got.as_mut_ptr(), n as isize, a, &packed, Some(bias.as_ptr()), relu) };
                assert!(got.iter().zip(&want).all(|(g, w)| g.to_bits() == w.to_bits()), "{m}x{n}x{k}, {threads} threads, relu {relu}");
            }
        }
    }
    infer::parallel::set_num_threads(0);
}

#[test]
fn conv_kernels_match_a_direct_convolution_and_do_not_depend_on_the_thread_count() {
    let _alone = thread_count_lock();
    use infer::kernels::conv::{
        backward_input, backward_weight, forward, image_tasks, scratch_len, weight_groups, weight_scratch_len, Geometry,
    };
    // Large enough for the images to run on the pool and the weight gradient to be summed in groups.
    let (n, c, h, w, o, k, stride, pad) = (10, 8, 31, 32, 16, 3, 2, 1);
    let (ho, wo) = (Geometry::out_size(h, k, stride, pad).unwrap(), Geometry::out_size(w, k, stride, pad).unwrap());
    let g = Geometry { c, h, w, kh: k, kw: k, stride, pad, ho, wo };
    let x = values(n * c * h * w, 70);
    let wt = values(o * c * k * k, 71);
    let bias = values(o, 72);
    let dy = values(n * o * ho * wo, 73);
    let run = |threads: usize| {
        infer::parallel::set_num_threads(threads);
        let tasks = image_tasks(&g, n, o);
        let mut scratch = vec![0f32; scratch_len(&g, tasks).unwrap()];
        let mut y = vec![0f32; n * o * ho * wo];
        forward(&g, n, o, &x, (&wt, None), Some(&bias), false, tasks, as_uninit(&mut y));
        let mut dx = vec![0f32; x.len()];
        backward_input(&g, n, o, &dy, &wt, tasks, &mut dx, &mut scratch);
        let groups = weight_groups(&g, n, o);
        assert!(groups > 1, "the test should sum the weight gradient in groups");
        let mut wscratch = vec![0f32; weight_scratch_len(&g, o, groups).unwrap()];
        let mut dw = vec![0f32; wt.len()];
        backward_weight(&g, n, o, &dy, &x, groups, &mut dw, &mut wscratch);
        (tasks, [y, dx, dw])
    };
    let (tasks_one, one) = run(1);
    let (tasks_three, three) = run(3);
    infer::parallel::set_num_threads(0);
    assert!(tasks_one == 1 && tasks_three > 1, "tasks {tasks_one}, {tasks_three}");
    for (a, b) in one.iter().zip(&three) {
        assert!(a.iter().zip(b).all(|(p, q)| p.to_bits() == q.to_bits()), "1 and 3 threads differ");
    }
    // Direct convolution in f64: y, and its adjoints dx and dw.
    let src = |oi: usize, ki: usize, size: usize| (oi * stride + ki).checked_sub(pad).filter(|&i| i < size);
    let mut y = vec![0f64; n * o * ho * wo];
    let mut dx = vec![0f64; x.len()];
    let mut dw = vec![0f64; wt.len()];
    for b in 0..n {
        for (oc, &bo) in bias.iter().enumerate() {
            for (oh, ow) in (0..ho).flat_map(|a| (0..wo).map(move |b| (a, b))) {
                let yi = ((b * o + oc) * ho + oh) * wo + ow;
                y[yi] = bo as f64;
                for (ic, i, j) in (0..c).flat_map(|ic| (0..k).flat_map(move |i| (0..k).map(move |j| (ic, i, j)))) {
                    let (Some(ih), Some(iw)) = (src(oh, i, h), src(ow, j, w)) else { continue };
                    let (xi, wi) = (((b * c + ic) * h + ih) * w + iw, ((oc * c + ic) * k + i) * k + j);
                    y[yi] += x[xi] as f64 * wt[wi] as f64;
                    dx[xi] += dy[yi] as f64 * wt[wi] as f64;
                    dw[wi] += dy[yi] as f64 * x[xi] as f64;
                }
            }
        }
    }
    for (name, got, want) in [("y", &one[0], &y), ("dx", &one[1], &dx), ("dw", &one[2], &dw)] {
        for (i, (&gv, &wv)) in got.iter().zip(want.iter()).enumerate() {
            assert!((gv as f64 - wv).abs() <= 1e-4 * (1.0 + wv.abs()), "{name}[{i}] = {gv}, expected {wv}");
        }
    }
}
