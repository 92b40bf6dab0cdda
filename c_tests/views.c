/* Views (API.md section 3): shapes and values, negative dims, errors, shared storage and version
 * counter, the kind of a view (I2, I4, I9), recording, and gradients through every view. */
#include "harness.h"
#include "probes.h"

/* x = 0, 1, 2, ... in the given shape. */
static rt_tensor *arange(const int64_t *shape, size_t ndim) {
    size_t n = 1;
    for (size_t i = 0; i < ndim; i++) n *= (size_t)shape[i];
    float *d = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) d[i] = (float)i;
    rt_tensor *t = tensor_f32(d, shape, ndim);
    free(d);
    return t;
}

static void check_values(const rt_tensor *t, const float *expected, size_t n) {
    check_all_near(t, expected, n, 0);
}

static const void *data_ptr_of(const rt_tensor *t) {
    const void *p = NULL;
    CHECK_OK(rt_tensor_data_ptr(t, &p));
    return p;
}

/* ---- view ---- */

TEST(view_infers_one_minus_one) {
    int64_t s[] = {2, 3, 4}, want[] = {4, -1}, got[] = {4, 6};
    rt_tensor *t = arange(s, 3), *v = NULL;
    CHECK_OK(rt_tensor_view(t, want, 2, &v));
    check_shape(v, got, 2);
    CHECK(is_view(v));
    CHECK(data_ptr_of(v) == data_ptr_of(t));
    float e[24];
    for (int i = 0; i < 24; i++) e[i] = (float)i;
    check_values(v, e, 24);
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(t));
}

TEST(view_refuses_bad_shapes) {
    int64_t s[] = {2, 3};
    rt_tensor *t = arange(s, 2), *v = NULL;
    int64_t two_infer[] = {-1, -1}, wrong_count[] = {4, 2}, negative[] = {-2, -3}, no_fit[] = {4, -1};
    CHECK_STATUS(rt_tensor_view(t, two_infer, 2, &v), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_view(t, wrong_count, 2, &v), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("[2, 3]");
    CHECK_STATUS(rt_tensor_view(t, negative, 2, &v), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_view(t, no_fit, 2, &v), RT_ERR_SHAPE);
    CHECK(v == NULL);
    CHECK_OK(rt_tensor_free(t));
}

TEST(view_of_a_transposed_tensor_that_needs_a_copy_is_a_shape_error) {
    int64_t s[] = {2, 3}, flat[] = {6}, ok_shape[] = {3, 2, 1};
    rt_tensor *t = arange(s, 2), *tt = NULL, *v = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_STATUS(rt_tensor_view(tt, flat, 1, &v), RT_ERR_SHAPE);
    CHECK_ERROR_MENTIONS("rt_tensor_reshape");
    CHECK(v == NULL);
    CHECK_OK(rt_tensor_view(tt, ok_shape, 3, &v)); /* adding a size-1 dim needs no copy */
    check_values(v, (float[]){0, 3, 1, 4, 2, 5}, 6);
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(tt));
    CHECK_OK(rt_tensor_free(t));
}

/* ---- reshape ---- */

TEST(reshape_aliases_when_it_can_and_copies_when_it_must) {
    int64_t s[] = {2, 3}, flat[] = {-1}, s6[] = {6};
    rt_tensor *t = arange(s, 2), *r = NULL, *tt = NULL, *rc = NULL;
    CHECK_OK(rt_tensor_reshape(t, flat, 1, &r));
    check_shape(r, s6, 1);
    CHECK(is_view(r));
    CHECK(data_ptr_of(r) == data_ptr_of(t));
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_OK(rt_tensor_reshape(tt, flat, 1, &rc));
    check_shape(rc, s6, 1);
    CHECK(!is_view(rc));
    CHECK(is_contiguous(rc));
    CHECK(data_ptr_of(rc) != data_ptr_of(t));
    check_values(rc, (float[]){0, 3, 1, 4, 2, 5}, 6);
    int64_t bad[] = {5};
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_reshape(t, bad, 1, &out), RT_ERR_SHAPE);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, r, tt, rc};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- transpose, permute ---- */

TEST(transpose_swaps_dims_and_accepts_negative_dims) {
    int64_t s[] = {2, 3, 4}, want[] = {4, 3, 2};
    rt_tensor *t = arange(s, 3), *a = NULL, *b = NULL, *same = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 2, &a));
    CHECK_OK(rt_tensor_transpose(t, -1, -3, &b));
    check_shape(a, want, 3);
    float e[24];
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) e[k * 6 + j * 2 + i] = (float)(i * 12 + j * 4 + k);
    check_values(a, e, 24);
    check_values(b, e, 24);
    CHECK_OK(rt_tensor_transpose(t, 1, 1, &same));
    check_shape(same, s, 3);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_transpose(t, 0, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_transpose(t, -4, 0, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, a, b, same};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(permute_reorders_dims) {
    int64_t s[] = {2, 3, 4}, perm[] = {2, 0, -2}, want[] = {4, 2, 3};
    rt_tensor *t = arange(s, 3), *p = NULL;
    CHECK_OK(rt_tensor_permute(t, perm, 3, &p));
    check_shape(p, want, 3);
    CHECK(is_view(p));
    float e[24];
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) e[k * 6 + i * 3 + j] = (float)(i * 12 + j * 4 + k);
    check_values(p, e, 24);
    CHECK_OK(rt_tensor_free(p));
    CHECK_OK(rt_tensor_free(t));
}

TEST(permute_refuses_repeated_or_missing_dims) {
    int64_t s[] = {2, 3, 4}, repeated[] = {0, 1, 0}, repeated_neg[] = {2, -1, 0}, short_perm[] = {1, 0};
    int64_t out_of_range[] = {0, 1, 3};
    rt_tensor *t = arange(s, 3), *p = NULL;
    CHECK_STATUS(rt_tensor_permute(t, repeated, 3, &p), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("repeated");
    CHECK_STATUS(rt_tensor_permute(t, repeated_neg, 3, &p), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_permute(t, short_perm, 2, &p), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_permute(t, out_of_range, 3, &p), RT_ERR_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_OK(rt_tensor_free(t));
}

/* ---- narrow, select ---- */

TEST(narrow_takes_a_slice) {
    int64_t s[] = {3, 4}, want[] = {3, 2};
    rt_tensor *t = arange(s, 2), *n = NULL, *neg = NULL, *empty = NULL;
    CHECK_OK(rt_tensor_narrow(t, 1, 1, 2, &n));
    check_shape(n, want, 2);
    check_values(n, (float[]){1, 2, 5, 6, 9, 10}, 6);
    CHECK_OK(rt_tensor_narrow(t, -2, -2, 2, &neg)); /* last two rows */
    check_values(neg, (float[]){4, 5, 6, 7, 8, 9, 10, 11}, 8);
    CHECK_OK(rt_tensor_narrow(t, 0, 3, 0, &empty));
    CHECK(numel_of(empty) == 0);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_narrow(t, 1, 3, 2, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_narrow(t, 1, 0, 5, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_narrow(t, 1, 0, -1, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_narrow(t, 2, 0, 1, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, n, neg, empty};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(select_removes_a_dim) {
    int64_t s[] = {3, 4}, s3[] = {3}, s4[] = {4};
    rt_tensor *t = arange(s, 2), *col = NULL, *row = NULL;
    CHECK_OK(rt_tensor_select(t, -1, -1, &col));
    check_shape(col, s3, 1);
    check_values(col, (float[]){3, 7, 11}, 3);
    CHECK_OK(rt_tensor_select(t, 0, 1, &row));
    check_shape(row, s4, 1);
    check_values(row, (float[]){4, 5, 6, 7}, 4);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_select(t, 0, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_select(t, 1, -5, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, col, row};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- squeeze, unsqueeze, expand, flatten ---- */

TEST(squeeze_removes_only_a_size_1_dim) {
    int64_t s[] = {2, 1, 3}, squeezed[] = {2, 3};
    rt_tensor *t = arange(s, 3), *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(rt_tensor_squeeze(t, 1, &a));
    check_shape(a, squeezed, 2);
    CHECK_OK(rt_tensor_squeeze(t, -2, &b));
    check_shape(b, squeezed, 2);
    CHECK_OK(rt_tensor_squeeze(t, 0, &c)); /* size 2: unchanged */
    check_shape(c, s, 3);
    check_values(a, (float[]){0, 1, 2, 3, 4, 5}, 6);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_squeeze(t, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, a, b, c};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(unsqueeze_inserts_a_size_1_dim) {
    int64_t s[] = {2, 3}, front[] = {1, 2, 3}, back[] = {2, 3, 1}, mid[] = {2, 1, 3};
    rt_tensor *t = arange(s, 2), *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(rt_tensor_unsqueeze(t, 0, &a));
    check_shape(a, front, 3);
    CHECK_OK(rt_tensor_unsqueeze(t, -1, &b));
    check_shape(b, back, 3);
    CHECK_OK(rt_tensor_unsqueeze(t, -2, &c));
    check_shape(c, mid, 3);
    check_values(b, (float[]){0, 1, 2, 3, 4, 5}, 6);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_unsqueeze(t, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_unsqueeze(t, -4, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, a, b, c};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(expand_broadcasts_without_copying) {
    int64_t s[] = {3, 1}, target[] = {2, -1, 4}, want[] = {2, 3, 4};
    rt_tensor *t = arange(s, 2), *e = NULL;
    CHECK_OK(rt_tensor_expand(t, target, 3, &e));
    check_shape(e, want, 3);
    CHECK(!is_contiguous(e));
    CHECK(is_view(e));
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)((i / 4) % 3);
    check_values(e, v, 24);
    int64_t bad_size[] = {3, 2, 4}, bad_lead[] = {-1, 3, 4}, too_few[] = {3};
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_expand(t, bad_size, 3, &out), RT_ERR_SHAPE);
    CHECK_STATUS(rt_tensor_expand(t, bad_lead, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_expand(t, too_few, 1, &out), RT_ERR_SHAPE);
    CHECK(out == NULL);
    CHECK_OK(rt_tensor_free(e));
    CHECK_OK(rt_tensor_free(t));
}

TEST(flatten_merges_a_range_of_dims) {
    int64_t s[] = {2, 3, 4}, inner[] = {2, 12}, all[] = {24}, outer[] = {6, 4};
    rt_tensor *t = arange(s, 3), *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(rt_tensor_flatten(t, 1, 2, &a));
    check_shape(a, inner, 2);
    CHECK(data_ptr_of(a) == data_ptr_of(t));
    CHECK_OK(rt_tensor_flatten(t, 0, -1, &b));
    check_shape(b, all, 1);
    CHECK_OK(rt_tensor_flatten(t, -3, -2, &c));
    check_shape(c, outer, 2);
    rt_tensor *out = NULL;
    CHECK_STATUS(rt_tensor_flatten(t, 2, 1, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_tensor_flatten(t, 0, 3, &out), RT_ERR_INVALID_ARGUMENT);
    CHECK(out == NULL);
    rt_tensor *ts[] = {t, a, b, c};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(flatten_of_a_transposed_tensor_copies) {
    int64_t s[] = {2, 3}, s6[] = {6};
    rt_tensor *t = arange(s, 2), *tt = NULL, *f = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &tt));
    CHECK_OK(rt_tensor_flatten(tt, 0, 1, &f));
    check_shape(f, s6, 1);
    check_values(f, (float[]){0, 3, 1, 4, 2, 5}, 6);
    CHECK(data_ptr_of(f) != data_ptr_of(t));
    rt_tensor *ts[] = {t, tt, f};
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- shared storage and version counter ---- */

TEST(views_see_writes_to_their_base) {
    int64_t s[] = {2, 3}, v32[] = {3, 2}, perm[] = {1, 0}, e[] = {2, 2, 3};
    rt_tensor *t = arange(s, 2);
    rt_tensor *v[10] = {NULL};
    CHECK_OK(rt_tensor_view(t, v32, 2, &v[0]));
    CHECK_OK(rt_tensor_reshape(t, v32, 2, &v[1]));
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &v[2]));
    CHECK_OK(rt_tensor_permute(t, perm, 2, &v[3]));
    CHECK_OK(rt_tensor_narrow(t, 1, 1, 2, &v[4]));
    CHECK_OK(rt_tensor_select(t, 0, 1, &v[5]));
    CHECK_OK(rt_tensor_unsqueeze(t, 0, &v[6]));
    CHECK_OK(rt_tensor_expand(t, e, 3, &v[7]));
    CHECK_OK(rt_tensor_flatten(t, 0, 1, &v[8]));
    CHECK_OK(rt_tensor_detach(t, &v[9]));
    float *base = (float *)data_ptr_of(t);
    base[4] = 40; /* element [1][1] */
    check_values(v[0], (float[]){0, 1, 2, 3, 40, 5}, 6);
    check_values(v[1], (float[]){0, 1, 2, 3, 40, 5}, 6);
    check_values(v[2], (float[]){0, 3, 1, 40, 2, 5}, 6);
    check_values(v[3], (float[]){0, 3, 1, 40, 2, 5}, 6);
    check_values(v[4], (float[]){1, 2, 40, 5}, 4);
    check_values(v[5], (float[]){3, 40, 5}, 3);
    check_values(v[6], (float[]){0, 1, 2, 3, 40, 5}, 6);
    check_values(v[7], (float[]){0, 1, 2, 3, 40, 5, 0, 1, 2, 3, 40, 5}, 12);
    check_values(v[8], (float[]){0, 1, 2, 3, 40, 5}, 6);
    check_values(v[9], (float[]){0, 1, 2, 3, 40, 5}, 6);
    for (int i = 0; i < 10; i++) CHECK_OK(rt_tensor_free(v[i]));
    CHECK_OK(rt_tensor_free(t));
}

TEST(views_keep_the_storage_alive_after_the_base_is_freed) {
    int64_t s[] = {2, 3};
    rt_tensor *t = arange(s, 2), *v = NULL, *w = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &v));
    CHECK_OK(rt_tensor_select(v, 0, 2, &w));
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_tensor_free(v));
    check_values(w, (float[]){2, 5}, 2);
    CHECK_OK(rt_tensor_free(w));
}

/* The only in-place update in the core is gradient accumulation into an existing .grad (as in
 * PyTorch), so that is how a version bump is observed through a view of the gradient. */
TEST(views_share_their_base_version_counter) {
    float d[] = {1, 2, 3, 4};
    int64_t s[] = {4}, s22[] = {2, 2};
    rt_tensor *x = leaf_f32(d, s, 1), *y = NULL;
    CHECK_OK(rt_tensor_mul_scalar(x, 3, &y));
    rt_tensor *g = NULL;
    CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &g));
    CHECK_OK(rt_tensor_backward(y, g, true));
    rt_tensor *grad = grad_of(x), *gv = NULL, *gd = NULL;
    CHECK_OK(rt_tensor_view(grad, s22, 2, &gv));
    CHECK_OK(rt_tensor_detach(grad, &gd));
    uint64_t v0 = version_of(grad);
    CHECK(version_of(gv) == v0 && version_of(gd) == v0);
    CHECK_OK(rt_tensor_backward(y, g, false)); /* accumulates into the same .grad in place */
    CHECK(version_of(grad) > v0);
    CHECK(version_of(gv) == version_of(grad));
    CHECK(version_of(gd) == version_of(grad));
    check_values(gv, (float[]){6, 6, 6, 6}, 4);
    rt_tensor *ts[] = {x, y, g, grad, gv, gd};
    for (int i = 0; i < 6; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- kinds and recording ---- */

TEST(views_of_inference_tensors_are_inference_tensors_and_not_views) {
    int64_t s[] = {2, 3};
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *t = arange(s, 2), *in_mode = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &in_mode));
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *out_mode = NULL, *det = NULL;
    CHECK_OK(rt_tensor_narrow(t, 1, 0, 2, &out_mode)); /* made outside the mode: still inference (I2) */
    CHECK_OK(rt_tensor_detach(t, &det));
    rt_tensor *vs[] = {in_mode, out_mode, det};
    for (int i = 0; i < 3; i++) {
        CHECK(is_inference(vs[i]));
        CHECK(!is_view(vs[i]));
        CHECK(!requires_grad(vs[i]));
        CHECK(!has_grad_fn(vs[i]));
        uint64_t v = 0;
        CHECK_STATUS(rt_tensor_version(vs[i], &v), RT_ERR_INFERENCE_MODE);
    }
    for (int i = 0; i < 3; i++) CHECK_OK(rt_tensor_free(vs[i]));
    CHECK_OK(rt_tensor_free(t));
}

TEST(views_of_inference_tensors_never_require_grad) {
    int64_t s[] = {2, 3};
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *t = arange(s, 2), *v = NULL;
    CHECK_OK(rt_tensor_set_requires_grad(t, true)); /* allowed inside the mode */
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &v));
    CHECK(!requires_grad(v));
    CHECK_OK(rt_inference_mode_exit());
    rt_tensor *w = NULL;
    CHECK_OK(rt_tensor_select(t, 0, 0, &w));
    CHECK(!requires_grad(w) && !has_grad_fn(w));
    CHECK_OK(rt_tensor_free(w));
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(t));
}

/* I9: a view of a normal tensor made inside inference mode stays normal, keeps requires_grad,
 * has no grad_fn and shares the version counter. */
TEST(views_of_normal_tensors_made_in_inference_mode_stay_normal) {
    int64_t s[] = {2, 3};
    rt_tensor *t = arange(s, 2);
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *v = NULL, *det = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &v));
    CHECK_OK(rt_tensor_detach(t, &det));
    CHECK_OK(rt_inference_mode_exit());
    CHECK(!is_inference(v));
    CHECK(is_view(v));
    CHECK(requires_grad(v));
    CHECK(!has_grad_fn(v));
    CHECK(version_of(v) == version_of(t));
    CHECK(!is_inference(det));
    CHECK(!requires_grad(det)); /* detach never requires grad */
    CHECK_OK(rt_tensor_free(det));
    CHECK_OK(rt_tensor_free(v));
    CHECK_OK(rt_tensor_free(t));
}

TEST(views_of_requires_grad_tensors_are_recorded_only_in_grad_mode) {
    int64_t s[] = {2, 3};
    rt_tensor *t = arange(s, 2), *plain = arange(s, 2);
    CHECK_OK(rt_tensor_set_requires_grad(t, true));
    rt_tensor *rec = NULL, *nog = NULL, *unrec = NULL;
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &rec));
    CHECK(has_grad_fn(rec) && requires_grad(rec) && !is_leaf(rec));
    CHECK_OK(rt_grad_mode_enter(false));
    CHECK_OK(rt_tensor_transpose(t, 0, 1, &nog));
    CHECK_OK(rt_grad_mode_exit());
    CHECK(!has_grad_fn(nog) && !requires_grad(nog) && is_view(nog));
    CHECK_OK(rt_tensor_transpose(plain, 0, 1, &unrec));
    CHECK(!has_grad_fn(unrec) && !requires_grad(unrec));
    rt_tensor *ts[] = {t, plain, rec, nog, unrec};
    for (int i = 0; i < 5; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* ---- gradients through every view ---- */

typedef rt_status (*view_fn)(const rt_tensor *x, rt_tensor **out);

/* For x = arange(shape) requiring grad and v = f(x): backward of sum(v * W) with W = 1, 2, 3, ...
 * in v's shape; x's gradient must equal `expected`. */
static void check_view_grad(const int64_t *shape, size_t ndim, view_fn f, const float *expected) {
    rt_tensor *x = arange(shape, ndim), *v = NULL, *w = NULL, *y = NULL;
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(f(x, &v));
    CHECK(has_grad_fn(v));
    size_t n = numel_of(v), nd = 0;
    int64_t vs[RT_MAX_DIMS];
    CHECK_OK(rt_tensor_shape(v, vs, RT_MAX_DIMS, &nd));
    float *wd = malloc(n * sizeof(float) + 1);
    for (size_t i = 0; i < n; i++) wd[i] = (float)(i + 1);
    w = tensor_f32(wd, vs, nd);
    free(wd);
    CHECK_OK(rt_tensor_mul(v, w, &y));
    backward_sum(y);
    check_grad(x, expected, numel_of(x), 0);
    rt_tensor *ts[] = {x, v, w, y};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

static rt_status v_view(const rt_tensor *x, rt_tensor **out) { return rt_tensor_view(x, (int64_t[]){3, -1}, 2, out); }
static rt_status v_reshape_copy(const rt_tensor *x, rt_tensor **out) {
    rt_tensor *t = NULL;
    rt_status s = rt_tensor_transpose(x, 0, 1, &t);
    if (s == RT_OK) s = rt_tensor_reshape(t, (int64_t[]){6}, 1, out);
    rt_tensor_free(t);
    return s;
}
static rt_status v_transpose(const rt_tensor *x, rt_tensor **out) { return rt_tensor_transpose(x, 0, 1, out); }
static rt_status v_permute(const rt_tensor *x, rt_tensor **out) { return rt_tensor_permute(x, (int64_t[]){2, 0, 1}, 3, out); }
static rt_status v_narrow(const rt_tensor *x, rt_tensor **out) { return rt_tensor_narrow(x, 1, 1, 2, out); }
static rt_status v_select(const rt_tensor *x, rt_tensor **out) { return rt_tensor_select(x, 1, -1, out); }
static rt_status v_squeeze(const rt_tensor *x, rt_tensor **out) { return rt_tensor_squeeze(x, 1, out); }
static rt_status v_unsqueeze(const rt_tensor *x, rt_tensor **out) { return rt_tensor_unsqueeze(x, 1, out); }
static rt_status v_expand(const rt_tensor *x, rt_tensor **out) { return rt_tensor_expand(x, (int64_t[]){2, 3, 4}, 3, out); }
static rt_status v_flatten(const rt_tensor *x, rt_tensor **out) { return rt_tensor_flatten(x, 0, 1, out); }
static rt_status v_contiguous(const rt_tensor *x, rt_tensor **out) {
    rt_tensor *t = NULL;
    rt_status s = rt_tensor_transpose(x, 0, 1, &t);
    if (s == RT_OK) s = rt_tensor_contiguous(t, out);
    rt_tensor_free(t);
    return s;
}
/* A chain: narrow of a transpose of a select. */
static rt_status v_chain(const rt_tensor *x, rt_tensor **out) {
    rt_tensor *a = NULL, *b = NULL;
    rt_status s = rt_tensor_select(x, 0, 1, &a); /* [3,4] */
    if (s == RT_OK) s = rt_tensor_transpose(a, 0, 1, &b); /* [4,3] */
    if (s == RT_OK) s = rt_tensor_narrow(b, 0, 1, 2, out); /* [2,3] = rows 1..2 of the transpose */
    rt_tensor_free(a);
    rt_tensor_free(b);
    return s;
}

/* x is [2,3] = [[0,1,2],[3,4,5]] unless noted; W = 1, 2, ... in the view's shape. */
TEST(gradient_through_view) { check_view_grad((int64_t[]){2, 3}, 2, v_view, (float[]){1, 2, 3, 4, 5, 6}); }
TEST(gradient_through_reshape_copy) {
    /* reshape(transpose(x)) = [x00, x10, x01, x11, x02, x12] with weights 1..6. */
    check_view_grad((int64_t[]){2, 3}, 2, v_reshape_copy, (float[]){1, 3, 5, 2, 4, 6});
}
TEST(gradient_through_transpose) { check_view_grad((int64_t[]){2, 3}, 2, v_transpose, (float[]){1, 3, 5, 2, 4, 6}); }
TEST(gradient_through_contiguous) { check_view_grad((int64_t[]){2, 3}, 2, v_contiguous, (float[]){1, 3, 5, 2, 4, 6}); }
TEST(gradient_through_narrow) { check_view_grad((int64_t[]){2, 3}, 2, v_narrow, (float[]){0, 1, 2, 0, 3, 4}); }
TEST(gradient_through_select) { check_view_grad((int64_t[]){2, 3}, 2, v_select, (float[]){0, 0, 1, 0, 0, 2}); }
TEST(gradient_through_squeeze) { check_view_grad((int64_t[]){2, 1, 3}, 3, v_squeeze, (float[]){1, 2, 3, 4, 5, 6}); }
TEST(gradient_through_unsqueeze) { check_view_grad((int64_t[]){2, 3}, 2, v_unsqueeze, (float[]){1, 2, 3, 4, 5, 6}); }
TEST(gradient_through_flatten) { check_view_grad((int64_t[]){2, 3}, 2, v_flatten, (float[]){1, 2, 3, 4, 5, 6}); }

TEST(gradient_through_permute) {
    /* x [2,2,3] -> v [3,2,2] with v[k][i][j] = x[i][j][k]; W[k][i][j] = 1 + 4k + 2i + j. */
    float e[12];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 3; k++) e[i * 6 + j * 3 + k] = (float)(1 + 4 * k + 2 * i + j);
    check_view_grad((int64_t[]){2, 2, 3}, 3, v_permute, e);
}

TEST(gradient_through_expand) {
    /* x [3,1] -> [2,3,4]: each x[i] collects W[a][i][c] = 1 + 12a + 4i + c over a, c. */
    float e[3];
    for (int i = 0; i < 3; i++) {
        e[i] = 0;
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 4; c++) e[i] += (float)(1 + 12 * a + 4 * i + c);
    }
    check_view_grad((int64_t[]){3, 1}, 2, v_expand, e);
}

TEST(gradient_through_a_chain_of_views) {
    /* x [2,3,4]; v = transpose(x[1])[1:3] is [2,3] with v[r][c] = x[1][c][r + 1], W = 1 + 3r + c. */
    float e[24] = {0};
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) e[12 + c * 4 + r + 1] = (float)(1 + 3 * r + c);
    check_view_grad((int64_t[]){2, 3, 4}, 3, v_chain, e);
}

TEST(detach_stops_the_gradient) {
    int64_t s[] = {3};
    rt_tensor *x = arange(s, 1), *d = NULL, *y = NULL, *z = NULL;
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_detach(x, &d));
    CHECK_OK(rt_tensor_mul(d, d, &y));
    CHECK(!requires_grad(y));
    CHECK_OK(rt_tensor_mul(x, d, &z)); /* d/dx (x * detach(x)) = detach(x) */
    backward_sum(z);
    check_grad(x, (float[]){0, 1, 2}, 3, 0);
    rt_tensor *ts[] = {x, d, y, z};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

/* Two views of one tensor feed the same leaf: their gradients add. */
TEST(gradients_of_overlapping_views_accumulate) {
    int64_t s[] = {2, 3};
    rt_tensor *x = arange(s, 2), *a = NULL, *b = NULL, *y = NULL;
    CHECK_OK(rt_tensor_set_requires_grad(x, true));
    CHECK_OK(rt_tensor_narrow(x, 1, 0, 2, &a)); /* columns 0..1 */
    CHECK_OK(rt_tensor_narrow(x, 1, 1, 2, &b)); /* columns 1..2 */
    CHECK_OK(rt_tensor_add(a, b, &y));
    backward_sum(y);
    check_grad(x, (float[]){1, 2, 1, 1, 2, 1}, 6, 0);
    rt_tensor *ts[] = {x, a, b, y};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
}
