/* Concurrency stress (API.md section 1, "Thread safety"): many threads running forward passes in
 * inference, no_grad and grad mode at once over one shared module, backward on their own graphs
 * into shared parameters, and handles made on one thread freed on another, checked against a
 * single-threaded reference. Each case also runs under ASan and valgrind (tests/c_tests.rs). */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "probes.h"

/* A failed check inside a worker thread records its line and stops that worker; the main thread
 * reports it after the join (harness_fail would exit from the middle of other threads' work). */
#define WCHECK(w, cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            (w)->failed_line = __LINE__;                                                 \
            rt_last_error_message((w)->error, sizeof (w)->error);                        \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

#define CHECK_WORKER(w)                                                                  \
    do {                                                                                 \
        if ((w)->failed_line) {                                                          \
            fprintf(stderr, "  worker failed at line %d (last error: %s)\n",             \
                    (w)->failed_line, (w)->error);                                       \
            CHECK(0);                                                                    \
        }                                                                                \
    } while (0)

/* ---- every backward's accumulation into one shared leaf lands ---- */

enum { LEAF_N = 4096, LEAF_THREADS = 8, LEAF_ITERS = 250 };

struct leaf_worker {
    rt_tensor *w;
    int failed_line;
    char error[256];
};

static void *leaf_worker_run(void *p) {
    struct leaf_worker *lw = p;
    for (int it = 0; it < LEAF_ITERS; it++) {
        rt_tensor *y = NULL, *loss = NULL;
        WCHECK(lw, rt_tensor_mul_scalar(lw->w, 1.0, &y) == RT_OK);
        WCHECK(lw, rt_tensor_sum(y, NULL, 0, false, &loss) == RT_OK);
        WCHECK(lw, rt_tensor_backward(loss, NULL, false) == RT_OK);
        WCHECK(lw, rt_tensor_free(loss) == RT_OK && rt_tensor_free(y) == RT_OK);
    }
done:
    return NULL;
}

/* Each backward adds exactly 1 to every element of w's gradient (integers, exact in F32), so a
 * lost or doubled update shows as a wrong count. Regression: commits used to read the old .grad,
 * add, and write it back without holding anything across, losing concurrent updates. */
TEST(concurrent_backward_into_one_leaf_loses_no_update) {
    int64_t s[] = {LEAF_N};
    rt_tensor *w = NULL;
    CHECK_OK(rt_tensor_zeros(s, 1, RT_DTYPE_F32, &w));
    CHECK_OK(rt_tensor_set_requires_grad(w, true));
    struct leaf_worker ws[LEAF_THREADS];
    pthread_t th[LEAF_THREADS];
    for (int i = 0; i < LEAF_THREADS; i++) {
        ws[i] = (struct leaf_worker){w, 0, ""};
        CHECK(pthread_create(&th[i], NULL, leaf_worker_run, &ws[i]) == 0);
    }
    for (int i = 0; i < LEAF_THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < LEAF_THREADS; i++) CHECK_WORKER(&ws[i]);
    rt_tensor *g = grad_of(w);
    CHECK(g != NULL);
    static float got[LEAF_N];
    read_f32(g, got, LEAF_N);
    for (int i = 0; i < LEAF_N; i++) CHECK(got[i] == (float)(LEAF_THREADS * LEAF_ITERS));
    CHECK_OK(rt_tensor_free(g));
    CHECK_OK(rt_tensor_free(w));
}

/* ---- mixed modes over one module, handles freed on other threads ---- */

enum { IN = 32, HIDDEN = 64, OUT = 8, BATCH = 64, INPUTS = 4, THREADS = 8, ITERS = 300 };
enum { MODE_INFERENCE, MODE_NO_GRAD, MODE_GRAD };
static const char *const param_names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
static const size_t param_sizes[] = {HIDDEN * IN, HIDDEN, OUT * HIDDEN, OUT};

static bool all_near(const rt_tensor *t, const float *expected, size_t n, double rel) {
    float got[BATCH * IN];
    if (n > BATCH * IN || rt_tensor_copy_to(t, got, n * sizeof(float)) != RT_OK) return false;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - expected[i]) <= rel * (1 + fabs((double)expected[i])))) return false;
    return true;
}

/* What one single-threaded pass gives for input k. */
struct reference {
    float out[INPUTS][BATCH * OUT];
    float input_grad[INPUTS][BATCH * IN];
    float *param_grad[INPUTS][4];
};

/* Handles passed between threads: whoever takes one checks it and frees it. */
enum parcel_kind { PARCEL_OUTPUT, PARCEL_INPUT_SHARE, PARCEL_PARAM };
struct parcel {
    rt_tensor *t;
    enum parcel_kind kind;
    int k;
};
enum { RING = 64 };
static struct {
    pthread_mutex_t mu;
    struct parcel items[RING];
    size_t head, count;
} ring = {PTHREAD_MUTEX_INITIALIZER, {{0}}, 0, 0};

static bool ring_put(struct parcel p) {
    pthread_mutex_lock(&ring.mu);
    bool ok = ring.count < RING;
    if (ok) ring.items[(ring.head + ring.count++) % RING] = p;
    pthread_mutex_unlock(&ring.mu);
    return ok;
}

static bool ring_take(struct parcel *p) {
    pthread_mutex_lock(&ring.mu);
    bool ok = ring.count > 0;
    if (ok) {
        *p = ring.items[ring.head];
        ring.head = (ring.head + 1) % RING;
        ring.count--;
    }
    pthread_mutex_unlock(&ring.mu);
    return ok;
}

struct worker {
    int id;
    rt_module *model;
    rt_tensor *const *inputs;
    const struct reference *ref;
    int backward_count[INPUTS];
    int failed_line;
    char error[256];
};

/* Checks a parcel made by any thread, then frees it here. */
static bool consume(const struct reference *ref, struct parcel p) {
    bool ok = true;
    if (p.kind == PARCEL_OUTPUT) ok = all_near(p.t, ref->out[p.k], BATCH * OUT, 1e-4);
    if (p.kind == PARCEL_INPUT_SHARE) {
        size_t n = 0;
        ok = rt_tensor_numel(p.t, &n) == RT_OK && n == BATCH * IN;
    }
    return rt_tensor_free(p.t) == RT_OK && ok;
}

static bool put_or_consume(const struct reference *ref, struct parcel p) {
    return ring_put(p) || consume(ref, p);
}

static void *worker_run(void *arg) {
    struct worker *w = arg;
    for (int it = 0; it < ITERS; it++) {
        int k = (w->id + it) % INPUTS, mode = (w->id + it) % 3;
        rt_tensor *x = w->inputs[k], *out = NULL;
        if (mode == MODE_INFERENCE) WCHECK(w, rt_inference_mode_enter(true) == RT_OK);
        if (mode == MODE_NO_GRAD) WCHECK(w, rt_grad_mode_enter(false) == RT_OK);
        if (mode == MODE_GRAD) {
            WCHECK(w, rt_tensor_clone(w->inputs[k], &x) == RT_OK);
            WCHECK(w, rt_tensor_set_requires_grad(x, true) == RT_OK);
        }
        WCHECK(w, rt_module_forward(w->model, x, &out) == RT_OK);
        bool inference = false, rg = false;
        WCHECK(w, rt_tensor_is_inference(out, &inference) == RT_OK && rt_tensor_requires_grad(out, &rg) == RT_OK);
        WCHECK(w, inference == (mode == MODE_INFERENCE) && rg == (mode == MODE_GRAD));
        WCHECK(w, all_near(out, w->ref->out[k], BATCH * OUT, 1e-4));
        if (mode == MODE_GRAD && it % 2 == 0) {
            rt_tensor *loss = NULL, *gx = NULL;
            WCHECK(w, rt_tensor_sum(out, NULL, 0, false, &loss) == RT_OK);
            WCHECK(w, rt_tensor_backward(loss, NULL, false) == RT_OK);
            WCHECK(w, rt_tensor_grad(x, &gx) == RT_OK && gx != NULL);
            WCHECK(w, all_near(gx, w->ref->input_grad[k], BATCH * IN, 1e-4));
            WCHECK(w, rt_tensor_free(gx) == RT_OK && rt_tensor_free(loss) == RT_OK);
            w->backward_count[k]++;
        }
        /* Odd grad-mode iterations hand over an output whose graph still holds saved tensors:
         * the graph is torn down on whichever thread frees it. */
        if (mode == MODE_GRAD) WCHECK(w, rt_tensor_free(x) == RT_OK);
        WCHECK(w, put_or_consume(w->ref, (struct parcel){out, PARCEL_OUTPUT, k}));
        rt_tensor *share = NULL, *param = NULL;
        WCHECK(w, rt_tensor_share(w->inputs[k], &share) == RT_OK);
        WCHECK(w, put_or_consume(w->ref, (struct parcel){share, PARCEL_INPUT_SHARE, k}));
        WCHECK(w, rt_module_get_tensor(w->model, param_names[it % 4], &param) == RT_OK);
        WCHECK(w, put_or_consume(w->ref, (struct parcel){param, PARCEL_PARAM, k}));
        struct parcel p;
        for (int i = 0; i < 2 && ring_take(&p); i++) WCHECK(w, consume(w->ref, p));
        if (mode == MODE_INFERENCE) WCHECK(w, rt_inference_mode_exit() == RT_OK);
        if (mode == MODE_NO_GRAD) WCHECK(w, rt_grad_mode_exit() == RT_OK);
        WCHECK(w, rt_is_grad_enabled() && !rt_is_inference_mode_enabled());
        /* The pool size may change at any time (API.md); results must not depend on it. */
        if (w->id == 0 && it % 50 == 0) WCHECK(w, rt_set_num_threads(1 + (size_t)(it / 50) % 2) == RT_OK);
    }
done:
    return NULL;
}

static void read_param_grads(rt_module *model, float *dst[4]) {
    for (int p = 0; p < 4; p++) {
        rt_tensor *t = NULL;
        CHECK_OK(rt_module_get_tensor(model, param_names[p], &t));
        rt_tensor *g = grad_of(t);
        CHECK(g != NULL);
        read_f32(g, dst[p], param_sizes[p]);
        CHECK_OK(rt_tensor_free(g));
        CHECK_OK(rt_tensor_free(t));
    }
}

/* THREADS x ITERS forward passes (a third in each mode) over one eval-mode module, a sixth of them
 * followed by backward into the shared parameters; every output, input gradient and the final
 * parameter gradients match single-threaded passes; the pool is resized meanwhile; each thread
 * frees handles other threads made (outputs with and without live graphs, shares of the inputs,
 * module tensor handles). */
TEST(mixed_mode_threads_match_a_single_threaded_reference) {
    rt_manual_seed(11);
    rt_module *l1, *act, *l2, *model;
    CHECK_OK(rt_module_linear(IN, HIDDEN, true, &l1));
    CHECK_OK(rt_module_tanh(&act));
    CHECK_OK(rt_module_linear(HIDDEN, OUT, true, &l2));
    rt_module *kids[] = {l1, act, l2};
    CHECK_OK(rt_module_sequential(kids, 3, &model));
    CHECK_OK(rt_module_train(model, false));
    rt_tensor *inputs[INPUTS];
    int64_t xs[] = {BATCH, IN};
    for (int k = 0; k < INPUTS; k++) CHECK_OK(rt_tensor_randn(xs, 2, &inputs[k]));

    static struct reference ref;
    for (int k = 0; k < INPUTS; k++) {
        rt_tensor *x = NULL, *out = NULL, *loss = NULL;
        CHECK_OK(rt_tensor_clone(inputs[k], &x));
        CHECK_OK(rt_tensor_set_requires_grad(x, true));
        CHECK_OK(rt_module_forward(model, x, &out));
        read_f32(out, ref.out[k], BATCH * OUT);
        CHECK_OK(rt_tensor_sum(out, NULL, 0, false, &loss));
        CHECK_OK(rt_tensor_backward(loss, NULL, false));
        rt_tensor *gx = grad_of(x);
        read_f32(gx, ref.input_grad[k], BATCH * IN);
        for (int p = 0; p < 4; p++) ref.param_grad[k][p] = malloc(param_sizes[p] * sizeof(float));
        read_param_grads(model, ref.param_grad[k]);
        CHECK_OK(rt_module_zero_grad(model));
        rt_tensor *ts[] = {x, out, loss, gx};
        for (int i = 0; i < 4; i++) CHECK_OK(rt_tensor_free(ts[i]));
    }

    struct worker ws[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ws[i] = (struct worker){.id = i, .model = model, .inputs = inputs, .ref = &ref};
        CHECK(pthread_create(&th[i], NULL, worker_run, &ws[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < THREADS; i++) CHECK_WORKER(&ws[i]);
    struct parcel p;
    while (ring_take(&p)) CHECK(consume(&ref, p));

    /* The parameters' gradients are the sum of every backward's contribution. */
    float *total[4];
    for (int p = 0; p < 4; p++) total[p] = malloc(param_sizes[p] * sizeof(float));
    read_param_grads(model, total);
    int backwards = 0;
    for (int p = 0; p < 4; p++) {
        for (size_t i = 0; i < param_sizes[p]; i++) {
            double expected = 0, scale = 0;
            for (int k = 0; k < INPUTS; k++) {
                int n = 0;
                for (int t = 0; t < THREADS; t++) n += ws[t].backward_count[k];
                if (p == 0 && i == 0) backwards += n;
                expected += n * (double)ref.param_grad[k][p][i];
                scale += n * fabs((double)ref.param_grad[k][p][i]);
            }
            CHECK_NEAR(total[p][i], expected, 1e-4 * (1 + scale));
        }
    }
    CHECK(backwards == THREADS * ITERS / 6);
    for (int p = 0; p < 4; p++) {
        free(total[p]);
        for (int k = 0; k < INPUTS; k++) free(ref.param_grad[k][p]);
    }
    for (int k = 0; k < INPUTS; k++) CHECK_OK(rt_tensor_free(inputs[k]));
    rt_module *ms[] = {l1, act, l2, model};
    for (int i = 0; i < 4; i++) CHECK_OK(rt_module_free(ms[i]));
}

/* ---- large ops split across the pool, from many threads at once ---- */

/* ROWS x COLS = 2^17 elements: above the size from which elementwise and row kernels split their
 * work across the pool, so every op below runs on several pool threads while other caller
 * threads' ops do too. */
enum { ROWS = 256, COLS = 512, BIG_N = ROWS * COLS, BIG_OPS = 7, BIG_THREADS = 3, BIG_ITERS = 3, W_ROWS = 128 };

/* Op k of input x (and weight w): a new tensor, or NULL on failure. */
static rt_tensor *big_op(int k, const rt_tensor *x, const rt_tensor *w) {
    rt_tensor *out = NULL;
    int64_t last[] = {COLS};
    int64_t dim0[] = {0};
    switch (k) {
    case 0: rt_tensor_gelu(x, &out); break;
    case 1: rt_tensor_tanh(x, &out); break;
    case 2: rt_tensor_softmax(x, 1, &out); break;
    case 3: rt_tensor_log_softmax(x, 0, &out); break; /* the column path */
    case 4: rt_tensor_layer_norm(x, last, 1, NULL, NULL, 1e-5, &out); break;
    case 5: rt_tensor_linear(x, w, NULL, &out); break;
    default: rt_tensor_sum(x, dim0, 1, false, &out); break;
    }
    return out;
}

static size_t big_numel(int k) {
    return k == 5 ? ROWS * W_ROWS : k == 6 ? COLS : BIG_N;
}

struct big_worker {
    int id;
    const rt_tensor *x, *w;
    float *const *expected;
    float *got;
    int failed_line;
    char error[256];
};

static void *big_worker_run(void *arg) {
    struct big_worker *w = arg;
    for (int it = 0; it < BIG_ITERS; it++) {
        bool inference = (w->id + it) % 2 == 0;
        if (inference) WCHECK(w, rt_inference_mode_enter(true) == RT_OK);
        for (int j = 0; j < BIG_OPS; j++) {
            int k = (w->id + j) % BIG_OPS;
            rt_tensor *out = big_op(k, w->x, w->w);
            WCHECK(w, out != NULL);
            size_t n = big_numel(k);
            WCHECK(w, rt_tensor_copy_to(out, w->got, n * sizeof(float)) == RT_OK);
            WCHECK(w, rt_tensor_free(out) == RT_OK);
            WCHECK(w, memcmp(w->got, w->expected[k], n * sizeof(float)) == 0);
        }
        if (inference) WCHECK(w, rt_inference_mode_exit() == RT_OK);
        /* The pool may be resized meanwhile (API.md); results must not depend on it. */
        if (w->id == 0) WCHECK(w, rt_set_num_threads(1 + (size_t)it % 3) == RT_OK);
    }
done:
    return NULL;
}

/* BIG_THREADS caller threads each run every large op BIG_ITERS times, half of the iterations in
 * inference mode, while one of them resizes the pool: each result has the same bits as the op run
 * alone beforehand (results do not depend on the thread count or on which thread runs a part). */
TEST(large_ops_split_across_the_pool_from_many_threads_match_single_runs) {
    rt_manual_seed(5);
    int64_t xs[] = {ROWS, COLS}, ws[] = {W_ROWS, COLS};
    rt_tensor *x = NULL, *w = NULL;
    CHECK_OK(rt_tensor_randn(xs, 2, &x));
    CHECK_OK(rt_tensor_randn(ws, 2, &w));
    CHECK_OK(rt_set_num_threads(2));
    float *expected[BIG_OPS];
    for (int k = 0; k < BIG_OPS; k++) {
        expected[k] = malloc(big_numel(k) * sizeof(float));
        CHECK(expected[k] != NULL);
        rt_tensor *out = big_op(k, x, w);
        CHECK(out != NULL);
        read_f32(out, expected[k], big_numel(k));
        CHECK_OK(rt_tensor_free(out));
    }
    struct big_worker bw[BIG_THREADS];
    pthread_t th[BIG_THREADS];
    for (int i = 0; i < BIG_THREADS; i++) {
        bw[i] = (struct big_worker){.id = i, .x = x, .w = w, .expected = expected, .got = malloc(BIG_N * sizeof(float))};
        CHECK(bw[i].got != NULL);
        CHECK(pthread_create(&th[i], NULL, big_worker_run, &bw[i]) == 0);
    }
    for (int i = 0; i < BIG_THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
    for (int i = 0; i < BIG_THREADS; i++) {
        CHECK_WORKER(&bw[i]);
        free(bw[i].got);
    }
    for (int k = 0; k < BIG_OPS; k++) free(expected[k]);
    CHECK_OK(rt_tensor_free(x));
    CHECK_OK(rt_tensor_free(w));
}

/* ---- a blob shared across threads is deleted once, by the last free ---- */

static atomic_int blob_deletions;
static void count_deletion(void *data, void *ctx) {
    (void)ctx;
    free(data);
    atomic_fetch_add(&blob_deletions, 1);
}

enum { BLOB_THREADS = 8, BLOB_SHARES = 200 };

struct blob_worker {
    rt_tensor **shares;
    int failed_line;
    char error[256];
};

static void *blob_worker_run(void *p) {
    struct blob_worker *bw = p;
    for (int i = 0; i < BLOB_SHARES; i++) {
        rt_tensor *y = NULL;
        WCHECK(bw, rt_tensor_mul_scalar(bw->shares[i], 2.0, &y) == RT_OK);
        WCHECK(bw, rt_tensor_free(y) == RT_OK);
        WCHECK(bw, rt_tensor_free(bw->shares[i]) == RT_OK);
    }
done:
    return NULL;
}

/* The deleter of caller memory runs exactly once, after the last of 1600 handles (freed on eight
 * threads at once) is gone, whichever thread that is. */
TEST(blob_shared_across_threads_is_deleted_once_by_the_last_free) {
    float *data = malloc(256 * sizeof(float));
    for (int i = 0; i < 256; i++) data[i] = (float)i;
    int64_t s[] = {256};
    rt_tensor *blob = NULL;
    CHECK_OK(rt_tensor_from_blob(data, 256 * sizeof(float), RT_DTYPE_F32, s, 1, count_deletion, NULL, &blob));
    static rt_tensor *shares[BLOB_THREADS][BLOB_SHARES];
    for (int t = 0; t < BLOB_THREADS; t++)
        for (int i = 0; i < BLOB_SHARES; i++) CHECK_OK(rt_tensor_share(blob, &shares[t][i]));
    CHECK_OK(rt_tensor_free(blob));
    CHECK(atomic_load(&blob_deletions) == 0);
    struct blob_worker ws[BLOB_THREADS];
    pthread_t th[BLOB_THREADS];
    for (int t = 0; t < BLOB_THREADS; t++) {
        ws[t] = (struct blob_worker){shares[t], 0, ""};
        CHECK(pthread_create(&th[t], NULL, blob_worker_run, &ws[t]) == 0);
    }
    for (int t = 0; t < BLOB_THREADS; t++) CHECK(pthread_join(th[t], NULL) == 0);
    for (int t = 0; t < BLOB_THREADS; t++) CHECK_WORKER(&ws[t]);
    CHECK(atomic_load(&blob_deletions) == 1);
}

/* ---- racing frees of the same handles ---- */

enum { RACE_HANDLES = 2000, RACERS = 4 };
static rt_tensor *race_handles[RACE_HANDLES];

struct racer {
    int id;
    int freed, refused, other;
};

static void *racer_run(void *p) {
    struct racer *r = p;
    for (int i = 0; i < RACE_HANDLES; i++) {
        int j = r->id % 2 ? RACE_HANDLES - 1 - i : i;
        rt_status s = rt_tensor_free(race_handles[j]);
        if (s == RT_OK) r->freed++;
        else if (s == RT_ERR_INVALID_HANDLE) r->refused++;
        else r->other++;
    }
    return NULL;
}

/* Four threads free the same 2000 handles at once (two in each direction): each handle is freed
 * exactly once, every other attempt is RT_ERR_INVALID_HANDLE, and the storage is all returned. */
TEST(racing_double_frees_succeed_exactly_once) {
    rt_memory_stats before, after;
    CHECK_OK(rt_memory_stats_get(&before));
    int64_t s[] = {4};
    for (int i = 0; i < RACE_HANDLES; i++) CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &race_handles[i]));
    struct racer rs[RACERS];
    pthread_t th[RACERS];
    for (int t = 0; t < RACERS; t++) {
        rs[t] = (struct racer){t, 0, 0, 0};
        CHECK(pthread_create(&th[t], NULL, racer_run, &rs[t]) == 0);
    }
    int freed = 0, refused = 0;
    for (int t = 0; t < RACERS; t++) {
        CHECK(pthread_join(th[t], NULL) == 0);
        CHECK(rs[t].other == 0);
        freed += rs[t].freed;
        refused += rs[t].refused;
    }
    CHECK(freed == RACE_HANDLES);
    CHECK(refused == (RACERS - 1) * RACE_HANDLES);
    CHECK_OK(rt_memory_stats_get(&after));
    CHECK(after.live_bytes == before.live_bytes);
}

/* ---- lookups racing the free of the same handles ---- */

enum { LOOKUP_HANDLES = 2000, LOOKERS = 3 };
static rt_tensor *lookup_handles[LOOKUP_HANDLES];
static atomic_bool lookups_freed;
static pthread_barrier_t lookups_start;

struct looker {
    int ok, refused, other;
};

/* Uses every handle, over and over until the free is done. */
static void *looker_run(void *p) {
    struct looker *l = p;
    pthread_barrier_wait(&lookups_start);
    do {
        for (int i = 0; i < LOOKUP_HANDLES; i++) {
            rt_tensor *out = NULL;
            size_t n = 0;
            rt_status s = rt_tensor_add(lookup_handles[i], lookup_handles[i], &out);
            if (s == RT_OK) {
                l->ok++;
                if (rt_tensor_numel(out, &n) != RT_OK || n != 4 || rt_tensor_free(out) != RT_OK) l->other++;
            } else if (s == RT_ERR_INVALID_HANDLE && out == NULL) {
                l->refused++;
            } else {
                l->other++;
            }
        }
    } while (!atomic_load(&lookups_freed));
    return NULL;
}

static void *freer_run(void *p) {
    int *failures = p;
    pthread_barrier_wait(&lookups_start);
    /* From the other end, so the free meets the lookups in the middle. */
    for (int i = LOOKUP_HANDLES - 1; i >= 0; i--)
        if (rt_tensor_free(lookup_handles[i]) != RT_OK) (*failures)++;
    atomic_store(&lookups_freed, true);
    return NULL;
}

/* Three threads use handles while a fourth frees them: each use sees the live tensor or
 * RT_ERR_INVALID_HANDLE, never a crash or a half-freed tensor, and the storage is all returned. */
TEST(lookups_racing_a_free_see_the_tensor_or_an_invalid_handle) {
    rt_memory_stats before, after;
    CHECK_OK(rt_memory_stats_get(&before));
    int64_t s[] = {4};
    for (int i = 0; i < LOOKUP_HANDLES; i++) CHECK_OK(rt_tensor_ones(s, 1, RT_DTYPE_F32, &lookup_handles[i]));
    CHECK(pthread_barrier_init(&lookups_start, NULL, LOOKERS + 1) == 0);
    struct looker ls[LOOKERS];
    pthread_t th[LOOKERS + 1];
    int free_failures = 0;
    for (int t = 0; t < LOOKERS; t++) {
        ls[t] = (struct looker){0, 0, 0};
        CHECK(pthread_create(&th[t], NULL, looker_run, &ls[t]) == 0);
    }
    CHECK(pthread_create(&th[LOOKERS], NULL, freer_run, &free_failures) == 0);
    for (int t = 0; t <= LOOKERS; t++) CHECK(pthread_join(th[t], NULL) == 0);
    CHECK(pthread_barrier_destroy(&lookups_start) == 0);
    CHECK(free_failures == 0);
    int ok = 0, refused = 0;
    for (int t = 0; t < LOOKERS; t++) {
        CHECK(ls[t].other == 0);
        ok += ls[t].ok;
        refused += ls[t].refused;
    }
    printf("lookups racing the free: %d saw the tensor, %d were refused\n", ok, refused);
    size_t n = 0;
    for (int i = 0; i < LOOKUP_HANDLES; i++) CHECK_STATUS(rt_tensor_numel(lookup_handles[i], &n), RT_ERR_INVALID_HANDLE);
    CHECK_OK(rt_memory_stats_get(&after));
    CHECK(after.live_bytes == before.live_bytes);
}
