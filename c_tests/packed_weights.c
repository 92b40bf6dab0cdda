/* From 64 input rows on, rt_tensor_linear packs the weight once for the GEMM and keeps the pack
 * beside the weight's storage while the weight's version is unchanged (src/ops/packed_weights.rs);
 * rt_tensor_conv2d does the same with its weight's transpose when its GEMM takes one.
 * Nothing of a stale pack may show: a weight written in place (an in-place op, an optimizer step),
 * caller memory written behind the library's back, and several views of one storage used as
 * weights each give the product of the values they hold at the call, in every grad mode. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

enum { ROWS = 64, IN = 40, OUT = 37 };

static float x_data[ROWS * IN];

static void fill(float *v, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
}

static rt_tensor *x_tensor(void) {
    fill(x_data, ROWS * IN, 7);
    int64_t s[] = {ROWS, IN};
    return tensor_f32(x_data, s, 2);
}

/* y = x w^T + b from the C arrays, w row o at w[o * w_rs + i * w_cs], in double. */
static void reference(const float *w, size_t w_rs, size_t w_cs, const float *b, float *y) {
    for (int r = 0; r < ROWS; r++)
        for (int o = 0; o < OUT; o++) {
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < IN; i++) acc += (double)x_data[r * IN + i] * w[o * w_rs + i * w_cs];
            y[r * OUT + o] = (float)acc;
        }
}

static void check_linear(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b, const float *want) {
    rt_tensor *y = NULL;
    CHECK_OK(rt_tensor_linear(x, w, b, &y));
    check_all_near(y, want, ROWS * OUT, 1e-4);
    CHECK_OK(rt_tensor_free(y));
}

static void enter(int mode) {
    if (mode == 1) CHECK_OK(rt_grad_mode_enter(false));
    if (mode == 2) CHECK_OK(rt_inference_mode_enter(true));
}

static void leave(int mode) {
    if (mode == 1) CHECK_OK(rt_grad_mode_exit());
    if (mode == 2) CHECK_OK(rt_inference_mode_exit());
}

/* Products before and after an in-place write, several times each (so a pack is made, kept and
 * then found stale), in grad mode, no_grad and inference mode. */
TEST(a_weight_written_in_place_is_seen_by_the_next_product) {
    rt_tensor *x = x_tensor();
    for (int mode = 0; mode < 3; mode++) {
        float w[OUT * IN], b[OUT], want[ROWS * OUT];
        fill(w, OUT * IN, 11 + mode);
        fill(b, OUT, 13);
        int64_t ws[] = {OUT, IN}, bs[] = {OUT};
        rt_tensor *wt = tensor_f32(w, ws, 2), *bt = tensor_f32(b, bs, 1);
        enter(mode);
        for (int round = 0; round < 4; round++) {
            reference(w, IN, 1, b, want);
            for (int call = 0; call < 3; call++) check_linear(x, wt, bt, want);
            CHECK_OK(rt_tensor_mul_scalar_inplace(wt, -1.5));
            for (int i = 0; i < OUT * IN; i++) w[i] *= -1.5f;
        }
        leave(mode);
        CHECK_OK(rt_tensor_free(wt));
        CHECK_OK(rt_tensor_free(bt));
    }
    CHECK_OK(rt_tensor_free(x));
}

/* A training loop: the forward after each optimizer step uses the stepped weight. */
TEST(each_training_step_sees_the_stepped_weight) {
    rt_tensor *x = x_tensor();
    float w[OUT * IN], want[ROWS * OUT];
    fill(w, OUT * IN, 17);
    int64_t ws[] = {OUT, IN};
    rt_tensor *wt = tensor_f32(w, ws, 2);
    CHECK_OK(rt_tensor_set_requires_grad(wt, true));
    rt_optimizer *opt = NULL;
    CHECK_OK(rt_optimizer_sgd_tensors(&wt, 1, 0.01, 0.0, 0.0, &opt));
    for (int step = 0; step < 4; step++) {
        rt_tensor *y = NULL, *loss = NULL;
        CHECK_OK(rt_tensor_linear(x, wt, NULL, &y));
        reference(w, IN, 1, NULL, want);
        check_all_near(y, want, ROWS * OUT, 1e-4);
        CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
        CHECK_OK(rt_tensor_backward(loss, NULL, false));
        CHECK_OK(rt_optimizer_step(opt));
        CHECK_OK(rt_optimizer_zero_grad(opt));
        /* d sum(x w^T) / d w[o][i] = sum_r x[r][i]. */
        for (int i = 0; i < IN; i++) {
            double g = 0;
            for (int r = 0; r < ROWS; r++) g += x_data[r * IN + i];
            for (int o = 0; o < OUT; o++) w[o * IN + i] -= (float)(0.01 * g);
        }
        CHECK_OK(rt_tensor_free(y));
        CHECK_OK(rt_tensor_free(loss));
    }
    /* Then served: the weight holds still, and the products stay right. */
    CHECK_OK(rt_inference_mode_enter(true));
    reference(w, IN, 1, NULL, want);
    for (int call = 0; call < 3; call++) check_linear(x, wt, NULL, want);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_optimizer_free(opt));
    CHECK_OK(rt_tensor_free(wt));
    CHECK_OK(rt_tensor_free(x));
}

/* Caller memory can change without a version bump: it is never served from a pack. */
TEST(a_blob_weight_written_by_the_caller_is_seen) {
    rt_tensor *x = x_tensor();
    float *w = malloc(sizeof(float) * OUT * IN), want[ROWS * OUT];
    CHECK(w != NULL);
    fill(w, OUT * IN, 19);
    int64_t ws[] = {OUT, IN};
    rt_tensor *wt = NULL;
    CHECK_OK(rt_tensor_from_blob(w, sizeof(float) * OUT * IN, RT_DTYPE_F32, ws, 2, NULL, NULL, &wt));
    for (int round = 0; round < 3; round++) {
        reference(w, IN, 1, NULL, want);
        for (int call = 0; call < 2; call++) check_linear(x, wt, NULL, want);
        for (int i = 0; i < OUT * IN; i++) w[i] = w[i] * 0.5f + 0.25f;
    }
    CHECK_OK(rt_tensor_free(wt));
    free(w);
    CHECK_OK(rt_tensor_free(x));
}

/* Two halves of one storage, and a transposed view, used as weights in turn: each product is
 * its own view's. */
TEST(views_of_one_storage_used_as_weights_in_turn) {
    rt_tensor *x = x_tensor();
    float w[2 * OUT * IN], want[ROWS * OUT];
    fill(w, 2 * OUT * IN, 23);
    int64_t ws[] = {2 * OUT, IN};
    rt_tensor *full = tensor_f32(w, ws, 2), *top = NULL, *bottom = NULL;
    CHECK_OK(rt_tensor_narrow(full, 0, 0, OUT, &top));
    CHECK_OK(rt_tensor_narrow(full, 0, OUT, OUT, &bottom));
    /* in 0..IN by out 0..OUT of the first IN * OUT values, transposed into an OUT x IN view. */
    int64_t ts[] = {IN, OUT};
    rt_tensor *flat = tensor_f32(w, ts, 2), *flat_t = NULL;
    CHECK_OK(rt_tensor_transpose(flat, 0, 1, &flat_t));
    for (int round = 0; round < 3; round++) {
        reference(w, IN, 1, NULL, want);
        check_linear(x, top, NULL, want);
        reference(w + OUT * IN, IN, 1, NULL, want);
        check_linear(x, bottom, NULL, want);
        reference(w, 1, OUT, NULL, want);
        check_linear(x, flat_t, NULL, want);
    }
    /* Writing through one view bumps the version the views share: all see it. */
    CHECK_OK(rt_tensor_add_scalar_inplace(bottom, 1.0));
    for (int i = OUT * IN; i < 2 * OUT * IN; i++) w[i] += 1.0f;
    reference(w, IN, 1, NULL, want);
    check_linear(x, top, NULL, want);
    reference(w + OUT * IN, IN, 1, NULL, want);
    check_linear(x, bottom, NULL, want);
    rt_tensor *all[] = {full, top, bottom, flat, flat_t, x};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* A small weight freed through rt_tensor_free is kept for reuse (src/recycle.rs) and comes back
 * as the next elementwise output of its size, at version 0 again, the version its pack was
 * made at: the pack must not come back with it. */
TEST(a_recycled_weight_storage_brings_back_no_pack) {
    enum { SMALL_OUT = 8 };
    rt_tensor *x = x_tensor();
    float w[SMALL_OUT * IN], ones[SMALL_OUT * IN], want[ROWS * SMALL_OUT];
    fill(w, SMALL_OUT * IN, 29);
    for (int i = 0; i < SMALL_OUT * IN; i++) ones[i] = 1.0f;
    int64_t ws[] = {SMALL_OUT, IN};
    for (int round = 0; round < 3; round++) {
        rt_tensor *old = tensor_f32(w, ws, 2), *y = NULL;
        for (int call = 0; call < 2; call++) {
            CHECK_OK(rt_tensor_linear(x, old, NULL, &y));
            CHECK_OK(rt_tensor_free(y));
        }
        CHECK_OK(rt_tensor_free(old));
        /* The new weight is w + 1, made by an elementwise op of the freed weight's size. */
        rt_tensor *a = tensor_f32(w, ws, 2), *b = tensor_f32(ones, ws, 2), *fresh = NULL;
        CHECK_OK(rt_tensor_add(a, b, &fresh));
        for (int i = 0; i < SMALL_OUT * IN; i++) w[i] += 1.0f;
        CHECK_OK(rt_tensor_linear(x, fresh, NULL, &y));
        for (int r = 0; r < ROWS; r++)
            for (int o = 0; o < SMALL_OUT; o++) {
                double acc = 0;
                for (int i = 0; i < IN; i++) acc += (double)x_data[r * IN + i] * w[o * IN + i];
                want[r * SMALL_OUT + o] = (float)acc;
            }
        check_all_near(y, want, ROWS * SMALL_OUT, 1e-4);
        rt_tensor *all[] = {y, a, b, fresh};
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) CHECK_OK(rt_tensor_free(all[i]));
    }
    CHECK_OK(rt_tensor_free(x));
}

/* From 64 rows a product has the same bits whether the weight's pack is kept, packed afresh
 * (the weight just moved) or never kept (caller memory): a reloaded or trained model gives
 * exactly the logits of the model it came from. */
TEST(the_product_is_the_same_bits_cached_or_not) {
    rt_tensor *x = x_tensor();
    float w[OUT * IN], b[OUT], first[ROWS * OUT];
    fill(w, OUT * IN, 31);
    fill(b, OUT, 37);
    int64_t ws[] = {OUT, IN}, bs[] = {OUT};
    rt_tensor *wt = tensor_f32(w, ws, 2), *bt = tensor_f32(b, bs, 1), *blob = NULL, *y = NULL;
    CHECK_OK(rt_tensor_from_blob(w, sizeof w, RT_DTYPE_F32, ws, 2, NULL, NULL, &blob));
    CHECK_OK(rt_tensor_linear(x, wt, bt, &y)); /* packs and keeps */
    read_f32(y, first, ROWS * OUT);
    CHECK_OK(rt_tensor_free(y));
    for (int variant = 0; variant < 3; variant++) {
        if (variant == 1) CHECK_OK(rt_tensor_mul_scalar_inplace(wt, 1.0)); /* moved: packed per call */
        CHECK_OK(rt_tensor_linear(x, variant == 2 ? blob : wt, bt, &y));
        check_all_near(y, first, ROWS * OUT, 0);
        CHECK_OK(rt_tensor_free(y));
    }
    rt_tensor *all[] = {wt, bt, blob, x};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* Convolution: a 3x3 kernel, padding 1, on 10 x 10 images, whose forward multiplies by the
 * weight's transpose packed once and kept (kernels/conv.rs `uses_positions`). */
enum { CN = 2, CC = 3, CH = 10, CO = 20, CK = 3 };

static float cx_data[CN * CC * CH * CH];

/* y = conv(x, w) + b from the C arrays, padding 1, stride 1, in double. */
static void conv_reference(const float *w, const float *b, float *y) {
    for (int n = 0; n < CN; n++)
        for (int o = 0; o < CO; o++)
            for (int r = 0; r < CH; r++)
                for (int c = 0; c < CH; c++) {
                    double acc = b[o];
                    for (int ch = 0; ch < CC; ch++)
                        for (int i = 0; i < CK; i++)
                            for (int j = 0; j < CK; j++) {
                                int ir = r + i - 1, ic = c + j - 1;
                                if (ir < 0 || ir >= CH || ic < 0 || ic >= CH) continue;
                                acc += (double)cx_data[((n * CC + ch) * CH + ir) * CH + ic] * w[((o * CC + ch) * CK + i) * CK + j];
                            }
                    y[((n * CO + o) * CH + r) * CH + c] = (float)acc;
                }
}

static void check_conv(const rt_tensor *x, const rt_tensor *w, const rt_tensor *b, const float *want) {
    rt_tensor *y = NULL;
    CHECK_OK(rt_tensor_conv2d(x, w, b, 1, 1, &y));
    check_all_near(y, want, CN * CO * CH * CH, 1e-4);
    CHECK_OK(rt_tensor_free(y));
}

TEST(a_conv_weight_written_in_place_is_seen_by_the_next_convolution) {
    fill(cx_data, CN * CC * CH * CH, 41);
    int64_t xs[] = {CN, CC, CH, CH}, ws[] = {CO, CC, CK, CK}, bs[] = {CO};
    rt_tensor *x = tensor_f32(cx_data, xs, 4);
    static float want[CN * CO * CH * CH];
    for (int mode = 0; mode < 3; mode++) {
        float w[CO * CC * CK * CK], b[CO];
        fill(w, CO * CC * CK * CK, 43 + mode);
        fill(b, CO, 47);
        rt_tensor *wt = tensor_f32(w, ws, 4), *bt = tensor_f32(b, bs, 1);
        enter(mode);
        for (int round = 0; round < 4; round++) {
            conv_reference(w, b, want);
            for (int call = 0; call < 3; call++) check_conv(x, wt, bt, want);
            CHECK_OK(rt_tensor_mul_scalar_inplace(wt, -1.5));
            for (int i = 0; i < CO * CC * CK * CK; i++) w[i] *= -1.5f;
        }
        leave(mode);
        CHECK_OK(rt_tensor_free(wt));
        CHECK_OK(rt_tensor_free(bt));
    }
    CHECK_OK(rt_tensor_free(x));
}

/* Kept, packed afresh after a write, or from caller memory: the same bits. */
TEST(a_convolution_is_the_same_bits_cached_or_not) {
    fill(cx_data, CN * CC * CH * CH, 53);
    int64_t xs[] = {CN, CC, CH, CH}, ws[] = {CO, CC, CK, CK};
    float w[CO * CC * CK * CK];
    static float first[CN * CO * CH * CH];
    fill(w, CO * CC * CK * CK, 59);
    rt_tensor *x = tensor_f32(cx_data, xs, 4), *wt = tensor_f32(w, ws, 4), *blob = NULL, *y = NULL;
    CHECK_OK(rt_tensor_from_blob(w, sizeof w, RT_DTYPE_F32, ws, 4, NULL, NULL, &blob));
    CHECK_OK(rt_tensor_conv2d(x, wt, NULL, 1, 1, &y)); /* packs and keeps */
    read_f32(y, first, CN * CO * CH * CH);
    CHECK_OK(rt_tensor_free(y));
    for (int variant = 0; variant < 4; variant++) {
        if (variant == 2) CHECK_OK(rt_tensor_mul_scalar_inplace(wt, 1.0)); /* moved: packed per call */
        CHECK_OK(rt_tensor_conv2d(x, variant == 3 ? blob : wt, NULL, 1, 1, &y));
        check_all_near(y, first, CN * CO * CH * CH, 0);
        CHECK_OK(rt_tensor_free(y));
    }
    rt_tensor *all[] = {wt, blob, x};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) CHECK_OK(rt_tensor_free(all[i]));
}

/* Two halves of one storage (the same shape at different offsets) and a transposed view, used as
 * convolution weights in turn: each output is its own view's, also after a write through one. */
TEST(views_of_one_storage_used_as_conv_weights_in_turn) {
    enum { WN = CO * CC * CK * CK };
    fill(cx_data, CN * CC * CH * CH, 61);
    int64_t xs[] = {CN, CC, CH, CH}, ws[] = {2 * CO, CC, CK, CK}, ts[] = {CC, CO, CK, CK}, bs[] = {CO};
    static float w[2 * WN], wt_data[WN], logical[WN], want[CN * CO * CH * CH];
    float b[CO];
    fill(w, 2 * WN, 67);
    fill(wt_data, WN, 71);
    fill(b, CO, 73);
    /* The transposed view's values in (CO, CC, CK, CK) order. */
    for (int o = 0; o < CO; o++)
        for (int c = 0; c < CC; c++)
            for (int k = 0; k < CK * CK; k++) logical[(o * CC + c) * CK * CK + k] = wt_data[(c * CO + o) * CK * CK + k];
    rt_tensor *x = tensor_f32(cx_data, xs, 4), *full = tensor_f32(w, ws, 4), *bt = tensor_f32(b, bs, 1);
    rt_tensor *top = NULL, *bottom = NULL, *flat = tensor_f32(wt_data, ts, 4), *flat_t = NULL;
    CHECK_OK(rt_tensor_narrow(full, 0, 0, CO, &top));
    CHECK_OK(rt_tensor_narrow(full, 0, CO, CO, &bottom));
    CHECK_OK(rt_tensor_transpose(flat, 0, 1, &flat_t));
    CHECK_OK(rt_inference_mode_enter(true));
    for (int round = 0; round < 3; round++) {
        conv_reference(w, b, want);
        check_conv(x, top, bt, want);
        conv_reference(w + WN, b, want);
        check_conv(x, bottom, bt, want);
        conv_reference(logical, b, want);
        check_conv(x, flat_t, bt, want);
    }
    CHECK_OK(rt_inference_mode_exit());
    /* Writing through one half bumps the version both share: both see it. */
    CHECK_OK(rt_tensor_add_scalar_inplace(bottom, 1.0));
    for (int i = WN; i < 2 * WN; i++) w[i] += 1.0f;
    conv_reference(w, b, want);
    check_conv(x, top, bt, want);
    conv_reference(w + WN, b, want);
    check_conv(x, bottom, bt, want);
    rt_tensor *all[] = {x, full, bt, top, bottom, flat, flat_t};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) CHECK_OK(rt_tensor_free(all[i]));
}
