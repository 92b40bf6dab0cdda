/* rt_module_load_safetensors / rt_module_save_safetensors: round trips, strict and non-strict key
 * handling, all-or-nothing failures, version bumps, and a state_dict saved by PyTorch
 * (tests/reference/make_safetensors_fixtures.py) reproducing PyTorch's output. */
#include "safetensors_util.h"

#define MAX_PARAMS 4

/* Sequential(Linear(in,hidden), ReLU, Linear(hidden,out)); children freed right away (the
 * container keeps its own references). */
static rt_module *mlp(int64_t in, int64_t hidden, int64_t out) {
    rt_module *l1, *relu, *l2, *m;
    CHECK_OK(rt_module_linear(in, hidden, true, &l1));
    CHECK_OK(rt_module_relu(&relu));
    CHECK_OK(rt_module_linear(hidden, out, true, &l2));
    rt_module *children[] = {l1, relu, l2};
    CHECK_OK(rt_module_sequential(children, 3, &m));
    CHECK_OK(rt_module_free(l1));
    CHECK_OK(rt_module_free(relu));
    CHECK_OK(rt_module_free(l2));
    return m;
}

static const char *const KEYS[MAX_PARAMS] = {"0.weight", "0.bias", "2.weight", "2.bias"};

/* Values and versions of the four tensors of a (4,3,2) MLP. */
typedef struct {
    float values[MAX_PARAMS][12];
    uint64_t versions[MAX_PARAMS];
} snapshot;

static const size_t SIZES[MAX_PARAMS] = {12, 3, 6, 2};

static snapshot snap(const rt_module *m) {
    snapshot s;
    memset(&s, 0, sizeof s);
    for (size_t i = 0; i < MAX_PARAMS; i++) {
        rt_tensor *t;
        CHECK_OK(rt_module_get_tensor(m, KEYS[i], &t));
        read_f32(t, s.values[i], SIZES[i]);
        CHECK_OK(rt_tensor_version(t, &s.versions[i]));
        CHECK(requires_grad(t));
        CHECK_OK(rt_tensor_free(t));
    }
    return s;
}

static bool same_values(const snapshot *a, const snapshot *b, size_t i) {
    return memcmp(a->values[i], b->values[i], SIZES[i] * sizeof(float)) == 0;
}

static void check_unchanged(const snapshot *before, const rt_module *m) {
    snapshot now = snap(m);
    for (size_t i = 0; i < MAX_PARAMS; i++) {
        CHECK(same_values(before, &now, i));
        CHECK(before->versions[i] == now.versions[i]);
    }
}

/* Saves tensors `keys` of module `from` (renamed by `names` when given) to path. */
static void save_subset(const rt_module *from, const char *const *keys, const char *const *names, size_t n, const char *path) {
    rt_tensor *ts[8];
    for (size_t i = 0; i < n; i++) CHECK_OK(rt_module_get_tensor(from, keys[i], &ts[i]));
    CHECK_OK(rt_safetensors_save(path, names ? names : keys, (const rt_tensor *const *)ts, n));
    for (size_t i = 0; i < n; i++) CHECK_OK(rt_tensor_free(ts[i]));
}

TEST(save_then_load_round_trip_bumps_versions) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *a = mlp(4, 3, 2), *b = mlp(4, 3, 2);
    CHECK_OK(rt_module_save_safetensors(a, path));
    rt_safetensors *f;
    size_t n;
    CHECK_OK(rt_safetensors_open(path, &f));
    CHECK_OK(rt_safetensors_count(f, &n));
    CHECK(n == 4);
    CHECK_OK(rt_safetensors_free(f));

    snapshot sa = snap(a), before = snap(b);
    CHECK_OK(rt_module_load_safetensors(b, path, true));
    snapshot after = snap(b);
    for (size_t i = 0; i < MAX_PARAMS; i++) {
        CHECK(!same_values(&before, &sa, i)); /* the two inits differed */
        CHECK(same_values(&after, &sa, i));
        CHECK(after.versions[i] == before.versions[i] + 1);
    }
    /* The same outputs now. */
    float x[] = {0.5f, -1, 2, 0.25f};
    int64_t xs[] = {1, 4};
    rt_tensor *in = tensor_f32(x, xs, 2), *ya, *yb;
    CHECK_OK(rt_module_forward(a, in, &ya));
    CHECK_OK(rt_module_forward(b, in, &yb));
    float va[2], vb[2];
    read_f32(ya, va, 2);
    read_f32(yb, vb, 2);
    CHECK(memcmp(va, vb, sizeof va) == 0);
    rt_tensor_free(in);
    rt_tensor_free(ya);
    rt_tensor_free(yb);
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

TEST(strict_rejects_missing_keys_and_non_strict_loads_the_rest) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *a = mlp(4, 3, 2), *b = mlp(4, 3, 2);
    save_subset(a, KEYS, NULL, 3, path); /* no "2.bias" */
    snapshot sa = snap(a), before = snap(b);
    CHECK_STATUS(rt_module_load_safetensors(b, path, true), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("missing key(s) \"2.bias\"");
    check_unchanged(&before, b);

    CHECK_OK(rt_module_load_safetensors(b, path, false));
    snapshot after = snap(b);
    for (size_t i = 0; i < 3; i++) {
        CHECK(same_values(&after, &sa, i));
        CHECK(after.versions[i] == before.versions[i] + 1);
    }
    CHECK(same_values(&after, &before, 3));
    CHECK(after.versions[3] == before.versions[3]);
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

TEST(strict_rejects_unexpected_keys_and_non_strict_ignores_them) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *a = mlp(4, 3, 2), *b = mlp(4, 3, 2);
    const char *keys[] = {"0.weight", "0.bias", "2.weight", "2.bias", "0.bias"};
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias", "extra.bias"};
    save_subset(a, keys, names, 5, path);
    snapshot sa = snap(a), before = snap(b);
    CHECK_STATUS(rt_module_load_safetensors(b, path, true), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("unexpected key(s) \"extra.bias\"");
    check_unchanged(&before, b);
    CHECK_OK(rt_module_load_safetensors(b, path, false));
    snapshot after = snap(b);
    for (size_t i = 0; i < MAX_PARAMS; i++) CHECK(same_values(&after, &sa, i));
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

TEST(shape_mismatch_leaves_the_module_unchanged) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *a = mlp(4, 3, 2), *b = mlp(4, 3, 2);
    rt_tensor *t[4], *wt;
    for (size_t i = 0; i < 4; i++) CHECK_OK(rt_module_get_tensor(a, KEYS[i], &t[i]));
    CHECK_OK(rt_tensor_transpose(t[2], 0, 1, &wt)); /* "2.weight" saved as (3, 2) instead of (2, 3) */
    const rt_tensor *ts[] = {t[0], t[1], wt, t[3]};
    CHECK_OK(rt_safetensors_save(path, KEYS, ts, 4));
    snapshot before = snap(b);
    for (int strict = 0; strict < 2; strict++) {
        CHECK_STATUS(rt_module_load_safetensors(b, path, strict), RT_ERR_SHAPE);
        CHECK_ERROR_MENTIONS("\"2.weight\"");
        CHECK_ERROR_MENTIONS("expects shape [2, 3] but the file has [3, 2]");
        check_unchanged(&before, b); /* "0.weight" and "0.bias" come first and were not written */
    }
    for (size_t i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(t[i]));
    CHECK_OK(rt_tensor_free(wt));
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

TEST(dtype_mismatch_leaves_the_module_unchanged) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *b = mlp(4, 3, 2);
    /* An I32 "2.bias" loads as I64, which an F32 parameter cannot take. */
    write_header_file(path, "{\"2.bias\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    snapshot before = snap(b);
    CHECK_STATUS(rt_module_load_safetensors(b, path, false), RT_ERR_DTYPE);
    CHECK_ERROR_MENTIONS("\"2.bias\" is I32");
    check_unchanged(&before, b);
    /* A dtype this build cannot read at all. */
    write_header_file(path, "{\"2.bias\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16);
    CHECK_STATUS(rt_module_load_safetensors(b, path, false), RT_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("key \"2.bias\": dtype C64");
    check_unchanged(&before, b);
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

TEST(bad_files_leave_the_module_unchanged) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *b = mlp(4, 3, 2);
    snapshot before = snap(b);
    CHECK_STATUS(rt_module_load_safetensors(b, scratch_path(&s, "missing.safetensors"), false), RT_ERR_IO);
    path = scratch_path(&s, "m.safetensors");
    write_header_file(path, "{\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", 8);
    CHECK_STATUS(rt_module_load_safetensors(b, path, false), RT_ERR_FORMAT);
    check_unchanged(&before, b);
    CHECK_STATUS(rt_module_load_safetensors(NULL, path, false), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_load_safetensors(b, NULL, false), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_save_safetensors(b, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_module_save_safetensors(b, scratch_path(&s, "no/dir/m.safetensors")), RT_ERR_IO);
    CHECK_OK(rt_module_free(b));
    CHECK_STATUS(rt_module_load_safetensors(b, path, false), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_module_save_safetensors(b, path), RT_ERR_INVALID_HANDLE);
    scratch_remove(&s);
}

/* A graph that saved a parameter before the load can no longer be backpropagated (I8). */
TEST(load_invalidates_graphs_that_saved_the_parameters) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "m.safetensors");
    rt_module *a = mlp(4, 3, 2), *b = mlp(4, 3, 2);
    CHECK_OK(rt_module_save_safetensors(a, path));
    float x[] = {0.5f, -1, 2, 0.25f};
    int64_t xs[] = {1, 4};
    rt_tensor *in = tensor_f32(x, xs, 2), *y, *loss;
    CHECK_OK(rt_module_forward(b, in, &y));
    CHECK_OK(rt_tensor_sum(y, NULL, 0, false, &loss));
    CHECK_OK(rt_module_load_safetensors(b, path, true));
    CHECK_STATUS(rt_tensor_backward(loss, NULL, false), RT_ERR_AUTOGRAD);
    rt_tensor_free(loss);
    rt_tensor_free(y);
    rt_tensor_free(in);
    CHECK_OK(rt_module_free(a));
    CHECK_OK(rt_module_free(b));
    scratch_remove(&s);
}

/* A module built in inference mode holds inference tensors: rule I6 forbids loading into them
 * outside inference mode; inside it the load works. */
TEST(inference_tensors_load_only_inside_inference_mode) {
    rt_module *b;
    CHECK_OK(rt_inference_mode_enter(true));
    b = mlp(4, 8, 3);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_STATUS(rt_module_load_safetensors(b, fixture("mlp.safetensors"), true), RT_ERR_INFERENCE_MODE);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(rt_module_load_safetensors(b, fixture("mlp.safetensors"), true));
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_module_free(b));
}

/* PyTorch output on the same input: tests/fixtures/mlp_io.safetensors. */
static void check_pytorch_output(const char *weights, const char *expected) {
    rt_module *m = mlp(4, 8, 3);
    CHECK_OK(rt_module_load_safetensors(m, fixture(weights), true));
    rt_safetensors *io;
    CHECK_OK(rt_safetensors_open(fixture("mlp_io.safetensors"), &io));
    rt_tensor *x, *want, *y;
    CHECK_OK(rt_safetensors_get(io, "input", &x));
    CHECK_OK(rt_safetensors_get(io, expected, &want));
    CHECK_OK(rt_safetensors_free(io));
    CHECK_OK(rt_module_forward(m, x, &y));
    float w[6];
    read_f32(want, w, 6);
    check_all_near(y, w, 6, 1e-5);
    rt_tensor_free(x);
    rt_tensor_free(want);
    rt_tensor_free(y);
    CHECK_OK(rt_module_free(m));
}

TEST(pytorch_state_dict_reproduces_pytorch_output) {
    check_pytorch_output("mlp.safetensors", "output");
}

TEST(f16_state_dict_loads_into_f32_parameters) {
    check_pytorch_output("mlp_f16.safetensors", "output_f16");
}
