/* rt_safetensors_*: round trips, files written by the reference `safetensors` package (fixtures
 * from tests/reference/make_safetensors_fixtures.py, whose printout gives the expected values),
 * hostile files, name-buffer and handle rules. */
#include "safetensors_util.h"

/* Element i of an F32 tensor equals `want` exactly (NaN matches NaN, the sign of zero counts). */
static void check_f32_exact(const rt_tensor *t, const float *want, size_t n) {
    float got[16];
    CHECK(n <= 16);
    read_f32(t, got, n);
    for (size_t i = 0; i < n; i++) {
        bool same = isnan(want[i]) ? isnan(got[i]) : (got[i] == want[i] && signbit(got[i]) == signbit(want[i]));
        if (!same) {
            fprintf(stderr, "  element %zu is %a, expected %a\n", i, got[i], want[i]);
            harness_fail(__FILE__, __LINE__, "check_f32_exact");
        }
    }
}

static void check_i64_exact(const rt_tensor *t, const int64_t *want, size_t n) {
    int64_t got[16];
    CHECK(n <= 16);
    size_t numel = 0;
    CHECK_OK(rt_tensor_numel(t, &numel));
    CHECK(numel == n);
    CHECK_OK(rt_tensor_copy_to(t, got, n * sizeof(int64_t)));
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fprintf(stderr, "  element %zu is %lld, expected %lld\n", i, (long long)got[i], (long long)want[i]);
            harness_fail(__FILE__, __LINE__, "check_i64_exact");
        }
    }
}

static rt_dtype dtype_of(const rt_tensor *t) {
    rt_dtype d = 99;
    CHECK_OK(rt_tensor_dtype(t, &d));
    return d;
}

static rt_tensor *get(const rt_safetensors *f, const char *name) {
    rt_tensor *t = NULL;
    CHECK_OK(rt_safetensors_get(f, name, &t));
    return t;
}

static uint64_t live_bytes(void) {
    rt_memory_stats s;
    CHECK_OK(rt_memory_stats_get(&s));
    return s.live_bytes;
}

TEST(round_trip_save_open_get) {
    scratch s;
    scratch_make(&s);
    float a[] = {1.5f, -2.0f, 0.25f, 4.0f, -0.0f, 1e-40f};
    int64_t ashape[] = {2, 3};
    int64_t b[] = {INT64_MIN, 7, INT64_MAX};
    int64_t bshape[] = {3};
    float c = 3.5f;
    rt_tensor *ta = tensor_f32(a, ashape, 2), *tb = tensor_i64(b, bshape, 1), *tc = tensor_f32(&c, NULL, 0);
    rt_tensor *tt; /* a transposed view: written row-major as a (3, 2) tensor */
    CHECK_OK(rt_tensor_transpose(ta, 0, 1, &tt));
    const char *names[] = {"weight", "ids", "scalar", "weight.T"};
    const rt_tensor *ts[] = {ta, tb, tc, tt};
    CHECK_OK(rt_safetensors_save(scratch_path(&s, "x.safetensors"), names, ts, 4));
    CHECK(scratch_count(&s) == 1); /* no temporary file left behind */

    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(scratch_path(&s, "x.safetensors"), &f));
    size_t n = 0;
    CHECK_OK(rt_safetensors_count(f, &n));
    CHECK(n == 4);
    const char *sorted[] = {"ids", "scalar", "weight", "weight.T"};
    for (size_t i = 0; i < 4; i++) {
        char buf[32];
        size_t len = 0;
        CHECK_OK(rt_safetensors_name(f, i, buf, sizeof buf, &len));
        CHECK(strcmp(buf, sorted[i]) == 0);
        CHECK(len == strlen(sorted[i]));
    }
    rt_tensor *ga = get(f, "weight"), *gb = get(f, "ids"), *gc = get(f, "scalar"), *gt = get(f, "weight.T");
    CHECK_OK(rt_safetensors_free(f)); /* tensors outlive the file handle */
    check_shape(ga, ashape, 2);
    check_f32_exact(ga, a, 6);
    CHECK(dtype_of(gb) == RT_DTYPE_I64);
    check_shape(gb, bshape, 1);
    check_i64_exact(gb, b, 3);
    check_shape(gc, NULL, 0);
    check_f32_exact(gc, &c, 1);
    int64_t tshape[] = {3, 2};
    float transposed[] = {1.5f, 4.0f, -2.0f, -0.0f, 0.25f, 1e-40f};
    check_shape(gt, tshape, 2);
    check_f32_exact(gt, transposed, 6);
    /* New normal tensors: not inference, version 0, no grad. */
    bool inf = true;
    uint64_t version = 99;
    CHECK_OK(rt_tensor_is_inference(ga, &inf));
    CHECK(!inf);
    CHECK_OK(rt_tensor_version(ga, &version));
    CHECK(version == 0);
    CHECK(!requires_grad(ga));
    rt_tensor *all[] = {ta, tb, tc, tt, ga, gb, gc, gt};
    for (size_t i = 0; i < 8; i++) CHECK_OK(rt_tensor_free(all[i]));
    scratch_remove(&s);
}

TEST(get_inside_inference_mode_gives_inference_tensors) {
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(fixture("mlp_io.safetensors"), &f));
    CHECK_OK(rt_inference_mode_enter(true));
    rt_tensor *x = get(f, "input");
    CHECK_OK(rt_inference_mode_exit());
    bool inf = false;
    CHECK_OK(rt_tensor_is_inference(x, &inf));
    CHECK(inf);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_safetensors_free(f));
}

TEST(save_overwrites_atomically_and_refuses_bad_names) {
    scratch s;
    scratch_make(&s);
    float v[] = {1, 2};
    int64_t shape[] = {2};
    rt_tensor *t = tensor_f32(v, shape, 1);
    const char *path = scratch_path(&s, "x.safetensors");
    const char *one[] = {"a"};
    const rt_tensor *ts[] = {t, t};
    CHECK_OK(rt_safetensors_save(path, one, ts, 1));
    size_t before_len = 0;
    unsigned char *before = read_bytes(path, &before_len);

    const char *dup[] = {"a", "a"};
    CHECK_STATUS(rt_safetensors_save(path, dup, ts, 2), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("\"a\"");
    const char *reserved[] = {"__metadata__"};
    CHECK_STATUS(rt_safetensors_save(path, reserved, ts, 1), RT_ERR_INVALID_ARGUMENT);
    size_t after_len = 0;
    unsigned char *after = read_bytes(path, &after_len);
    CHECK(after_len == before_len && memcmp(before, after, before_len) == 0);
    free(after);

    /* Saving again replaces the file as a whole; n = 0 writes a valid empty file. */
    CHECK_OK(rt_safetensors_save(path, NULL, NULL, 0));
    rt_safetensors *f = NULL;
    size_t n = 99;
    CHECK_OK(rt_safetensors_open(path, &f));
    CHECK_OK(rt_safetensors_count(f, &n));
    CHECK(n == 0);
    CHECK_OK(rt_safetensors_free(f));
    CHECK(scratch_count(&s) == 1);

    CHECK_STATUS(rt_safetensors_save(scratch_path(&s, "no/such/dir/x.safetensors"), one, ts, 1), RT_ERR_IO);
    CHECK(scratch_count(&s) == 1);
    free(before);
    CHECK_OK(rt_tensor_free(t));
    scratch_remove(&s);
}

TEST(save_null_and_handle_errors) {
    float v = 1;
    rt_tensor *t = tensor_f32(&v, NULL, 0);
    const char *names[] = {"a", NULL};
    const rt_tensor *ts[] = {t, NULL};
    CHECK_STATUS(rt_safetensors_save(NULL, names, ts, 1), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_safetensors_save("/tmp/x.safetensors", NULL, ts, 1), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_safetensors_save("/tmp/x.safetensors", names, NULL, 1), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_safetensors_save("/tmp/x.safetensors", names, ts, 2), RT_ERR_NULL_ARGUMENT);
    CHECK_ERROR_MENTIONS("names[1]");
    rt_tensor *freed = tensor_f32(&v, NULL, 0);
    CHECK_OK(rt_tensor_free(freed));
    const rt_tensor *stale[] = {freed};
    CHECK_STATUS(rt_safetensors_save("/tmp/x.safetensors", names, stale, 1), RT_ERR_INVALID_HANDLE);
    CHECK_ERROR_MENTIONS("ts[0]");
    CHECK_OK(rt_tensor_free(t));
}

/* Expected values: the printout of make_safetensors_fixtures.py (PyTorch's .float() / .long()). */
TEST(reference_files_convert_exactly) {
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(fixture("dtypes.safetensors"), &f));
    const char *sorted[] = {"bf16", "bool", "empty", "f16", "f32", "f64", "f8_e4m3", "f8_e5m2", "i16",
                            "i32", "i64", "i8", "scalar", "u16", "u32", "u64", "u8"};
    size_t n = 0;
    CHECK_OK(rt_safetensors_count(f, &n));
    CHECK(n == 17);
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        size_t len;
        CHECK_OK(rt_safetensors_name(f, i, buf, sizeof buf, &len));
        CHECK(strcmp(buf, sorted[i]) == 0);
    }
    struct {
        const char *name;
        float want[8];
        size_t n;
    } floats[] = {
        {"f32", {0x1.8p+0f, -0x1.2p+1f, 0.0f, 0x1.fffffep+127f, 0x1p-149f, -0.0f}, 6},
        {"f16", {1.0f, -2.5f, 65504.0f, 0x1p-24f, 0x1p-14f, INFINITY, -INFINITY, NAN}, 8},
        {"bf16", {1.0f, -0x1.92p+1f, 0x1.fep+127f, 0x1p-133f, INFINITY, NAN}, 6},
        {"f64", {0x1.99999ap-4f, -INFINITY, 0x1p-140f, 0x1.555556p-2f}, 4},
        {"f8_e4m3", {448.0f, -0x1p-9f, 1.0f, NAN}, 4},
        {"f8_e5m2", {57344.0f, 0x1p-16f, INFINITY, -1.5f}, 4},
        {"scalar", {42.5f}, 1},
    };
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        rt_tensor *t = get(f, floats[i].name);
        CHECK(dtype_of(t) == RT_DTYPE_F32);
        check_f32_exact(t, floats[i].want, floats[i].n);
        CHECK_OK(rt_tensor_free(t));
    }
    struct {
        const char *name;
        int64_t want[4];
        size_t n;
    } ints[] = {
        {"i64", {INT64_MIN, -1, 0, INT64_MAX}, 4},
        {"i32", {INT32_MIN, -7, INT32_MAX}, 3},
        {"i16", {-32768, 32767}, 2},
        {"i8", {-128, 127}, 2},
        {"u8", {0, 1, 128, 255}, 4},
        {"u16", {0, 65535}, 2},
        {"u32", {0, 4294967295LL}, 2},
        {"u64", {0, INT64_MAX}, 2},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        rt_tensor *t = get(f, ints[i].name);
        CHECK(dtype_of(t) == RT_DTYPE_I64);
        check_i64_exact(t, ints[i].want, ints[i].n);
        CHECK_OK(rt_tensor_free(t));
    }
    /* BOOL loads as BOOL (API.md 7.B), one byte per element. */
    rt_tensor *b = get(f, "bool");
    CHECK(dtype_of(b) == RT_DTYPE_BOOL);
    uint8_t bytes[3], want_bytes[] = {1, 0, 1};
    CHECK_OK(rt_tensor_copy_to(b, bytes, sizeof bytes));
    CHECK(memcmp(bytes, want_bytes, sizeof bytes) == 0);
    CHECK_OK(rt_tensor_free(b));
    int64_t s23[] = {2, 3}, s22[] = {2, 2}, s03[] = {0, 3}, s24[] = {2, 4};
    rt_tensor *t = get(f, "f32");
    check_shape(t, s23, 2);
    CHECK_OK(rt_tensor_free(t));
    t = get(f, "i64");
    check_shape(t, s22, 2);
    CHECK_OK(rt_tensor_free(t));
    t = get(f, "f16");
    check_shape(t, s24, 2);
    CHECK_OK(rt_tensor_free(t));
    t = get(f, "scalar");
    check_shape(t, NULL, 0);
    CHECK_OK(rt_tensor_free(t));
    t = get(f, "empty");
    check_shape(t, s03, 2);
    CHECK_OK(rt_tensor_free(t));
    CHECK_OK(rt_safetensors_free(f));
}

TEST(unconvertible_values_and_dtypes_are_unsupported) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "x.safetensors");
    write_header_file(path, "{\"c\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                            "\"u\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[8,16]}}", 16);
    /* Bytes 8..16 are 8, 9, ..., 15: the U64 value 0x0f0e0d0c0b0a0908 fits int64; make it not. */
    size_t len;
    unsigned char *bytes = read_bytes(path, &len);
    bytes[len - 1] = 0xff;
    write_bytes(path, bytes, len);
    free(bytes);
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(path, &f));
    rt_tensor *t = (rt_tensor *)&s;
    CHECK_STATUS(rt_safetensors_get(f, "c", &t), RT_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("C64");
    CHECK_STATUS(rt_safetensors_get(f, "u", &t), RT_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("I64 range");
    CHECK(t == (rt_tensor *)&s);
    CHECK_OK(rt_safetensors_free(f));
    scratch_remove(&s);
}

TEST(name_buffer_semantics) {
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(fixture("mlp_io.safetensors"), &f));
    size_t len = 0;
    CHECK_STATUS(rt_safetensors_name(f, 0, NULL, 0, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 5); /* "input" */
    char buf[8] = "xxxxxxx";
    len = 0;
    CHECK_STATUS(rt_safetensors_name(f, 0, buf, 5, &len), RT_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 5);
    CHECK(strcmp(buf, "xxxxxxx") == 0); /* untouched */
    CHECK_OK(rt_safetensors_name(f, 0, buf, 6, &len));
    CHECK(strcmp(buf, "input") == 0 && len == 5);
    CHECK_STATUS(rt_safetensors_name(f, 3, buf, sizeof buf, &len), RT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(rt_safetensors_name(f, 0, buf, sizeof buf, NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_OK(rt_safetensors_free(f));
}

TEST(unknown_name_is_invalid_argument) {
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(fixture("mlp_io.safetensors"), &f));
    rt_tensor *t = NULL;
    CHECK_STATUS(rt_safetensors_get(f, "nope", &t), RT_ERR_INVALID_ARGUMENT);
    CHECK_ERROR_MENTIONS("nope");
    CHECK(t == NULL);
    CHECK_STATUS(rt_safetensors_get(f, NULL, &t), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_safetensors_get(f, "input", NULL), RT_ERR_NULL_ARGUMENT);
    CHECK_OK(rt_safetensors_free(f));
}

TEST(freed_and_wrong_handles_are_invalid) {
    rt_safetensors *f = NULL;
    CHECK_OK(rt_safetensors_open(fixture("mlp_io.safetensors"), &f));
    CHECK_OK(rt_safetensors_free(f));
    size_t n;
    rt_tensor *t = NULL;
    char buf[8];
    CHECK_STATUS(rt_safetensors_count(f, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_safetensors_get(f, "input", &t), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_safetensors_name(f, 0, buf, sizeof buf, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_safetensors_free(f), RT_ERR_INVALID_HANDLE); /* double free */
    CHECK_OK(rt_safetensors_free(NULL));
    float v = 1;
    rt_tensor *x = tensor_f32(&v, NULL, 0);
    CHECK_STATUS(rt_safetensors_count((const rt_safetensors *)x, &n), RT_ERR_INVALID_HANDLE);
    CHECK_STATUS(rt_safetensors_free((rt_safetensors *)x), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_tensor_free(x)); /* still live: the wrong-kind free did nothing */
    CHECK_STATUS(rt_safetensors_count(NULL, &n), RT_ERR_NULL_ARGUMENT);
}

TEST(open_errors_are_io) {
    rt_safetensors *f = NULL;
    CHECK_STATUS(rt_safetensors_open("/nonexistent/x.safetensors", &f), RT_ERR_IO);
    CHECK_ERROR_MENTIONS("/nonexistent/x.safetensors");
    CHECK_STATUS(rt_safetensors_open("/tmp", &f), RT_ERR_IO);
    CHECK(f == NULL);
    CHECK_STATUS(rt_safetensors_open(NULL, &f), RT_ERR_NULL_ARGUMENT);
    CHECK_STATUS(rt_safetensors_open("/tmp", NULL), RT_ERR_NULL_ARGUMENT);
}

/* Each hostile file fails to open with RT_ERR_FORMAT and a message naming what is wrong, writes
 * no handle and allocates no tensor storage. */
TEST(hostile_files_are_format_errors) {
    scratch s;
    scratch_make(&s);
    const char *path = scratch_path(&s, "bad.safetensors");
    uint64_t live = live_bytes();
    rt_safetensors *f = NULL;
    struct {
        const char *json;
        size_t data_len;
        const char *mention;
    } cases[] = {
        {"{\"t\":", 0, "not a valid JSON object"},
        {"[1, 2]", 0, "expected a JSON object"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "data section is only 4 bytes"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0] = -2"},
        {"{\"t\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "unknown dtype \"Q4\""},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "begin is after its end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps tensor \"a\""},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "overflows"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_header_file(path, cases[i].json, cases[i].data_len);
        CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
        CHECK_ERROR_MENTIONS(cases[i].mention);
        CHECK(f == NULL);
    }
    /* Shorter than the length prefix. */
    write_bytes(path, "\x02\x00\x00", 3);
    CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
    CHECK_ERROR_MENTIONS("shorter than the 8-byte");
    write_bytes(path, "", 0);
    CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
    /* A header length of 2^64 - 1: refused before anything of that size is allocated. */
    write_bytes(path, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
    CHECK_ERROR_MENTIONS("only 2 bytes follow");
    /* A real file cut short, at several places. */
    size_t len;
    unsigned char *whole = read_bytes(fixture("dtypes.safetensors"), &len);
    size_t cuts[] = {4, 8, 20, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        write_bytes(path, whole, cuts[i]);
        CHECK_STATUS(rt_safetensors_open(path, &f), RT_ERR_FORMAT);
        CHECK(f == NULL);
    }
    free(whole);
    CHECK(live_bytes() == live);
    scratch_remove(&s);
}
