/* Times the ~30M Llama of benches/llama_weights.py built by examples_c/llama_model.h, batch 1, in
 * inference mode: prefill of a 256-token prompt (a fresh KV cache each run) and decode of one token
 * against a 256-token cache (the position is set back to 256 after each step, so every step sees
 * the same cache length), each the median of its runs; then the peak of rt_memory_stats_get over
 * one generation (256-token prompt + 32 new tokens), beside the weights, KV-cache and widest
 * activation bytes the memory target is made of.
 *
 *   llama_bench [folder] [--quick] [--only prefill|decode]
 * (folder default target/llama30m; threads INFER_BENCH_THREADS, 2; --only times one phase and
 * prints nothing else, for profiling it alone: perf record -g llama_bench --only decode)
 *
 * Prints one JSON object per line (as benches/anchors.rs does) for benches/compare_llama.py, which
 * compiles this file with cc against the release libinfer.so (see its docstring). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "../examples_c/llama_model.h"

#define PROMPT 256
#define NEW_TOKENS 32

static void check(rt_status s, const char *what, int line) {
    if (s != RT_OK) {
        char msg[1024];
        rt_last_error_message(msg, sizeof msg);
        fprintf(stderr, "llama_bench.c:%d: %s failed: %s (%s)\n", line, what, rt_status_str(s), msg);
        exit(1);
    }
}
#define CHECK(call) check((call), #call, __LINE__)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *s, int n) {
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return s[n / 2];
}

/* Runs `ids` through the model from cache position `pos` and frees the logits; seconds taken. */
static double timed_run(const rt_module *m, llama_state *st, int64_t pos, const int64_t *ids, int64_t n) {
    rt_tensor *logits = NULL;
    st->pos = pos;
    double t = now();
    CHECK(llama_run(m, ids, n, &logits));
    t = now() - t;
    CHECK(rt_tensor_free(logits));
    return t;
}

/* Samples until `budget` seconds have passed and at least `min_runs` runs were made (at most 256). */
static double median_runs(const rt_module *m, llama_state *st, int64_t pos, const int64_t *ids, int64_t n,
                          double budget, int min_runs) {
    double samples[256];
    int count = 0;
    double start = now();
    timed_run(m, st, pos, ids, n); /* warm-up: first-touch of buffers, pool start */
    while (count < 256 && (count < min_runs || now() - start < budget)) samples[count++] = timed_run(m, st, pos, ids, n);
    return median(samples, count);
}

int main(int argc, char **argv) {
    const char *folder = "target/llama30m";
    bool quick = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else folder = argv[i];
    }
    const char *env = getenv("INFER_BENCH_THREADS");
    size_t threads = env ? (size_t)strtoul(env, NULL, 10) : 2;
    CHECK(rt_set_num_threads(threads));

    llama_config cfg;
    if (!llama_read_config(folder, &cfg)) return 1;
    rt_module *m = NULL;
    llama_state *st = NULL;
    CHECK(llama_build(&cfg, &m, &st));
    CHECK(llama_load(m, folder));

    int64_t ids[PROMPT + NEW_TOKENS];
    uint64_t rng = 12345;
    for (int i = 0; i < PROMPT; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int64_t)((rng >> 33) % (uint64_t)cfg.vocab_size);
    }

    CHECK(rt_inference_mode_enter(true));
    llama_cache_reset(st);
    double budget = quick ? 1.0 : 5.0;
    bool only_decode = only && strcmp(only, "decode") == 0;
    double prefill = only_decode ? timed_run(m, st, 0, ids, PROMPT) : median_runs(m, st, 0, ids, PROMPT, budget, quick ? 3 : 7);
    /* the cache now holds the prompt's 256 positions; each decode step writes position 256 */
    double decode = only && !only_decode ? 0 : median_runs(m, st, PROMPT, &ids[PROMPT - 1], 1, budget, quick ? 11 : 31);
    CHECK(rt_inference_mode_exit());
    if (only) {
        printf("%s: %.3f ms\n", only, (only_decode ? decode : prefill) * 1e3);
        rt_module_free(m);
        return 0;
    }

    /* Peak over one generation: a fresh cache, the prompt, then NEW_TOKENS greedy tokens. */
    rt_memory_stats before, after;
    CHECK(rt_memory_stats_get(&before));
    rt_memory_reset_peak();
    CHECK(llama_generate(m, st, ids, PROMPT, NEW_TOKENS, 0.0, 0, &ids[PROMPT]));
    CHECK(rt_memory_stats_get(&after));

    int64_t h = cfg.hidden_size, f = cfg.intermediate_size, kv = cfg.num_kv_heads * cfg.head_dim;
    int64_t q = cfg.num_heads * cfg.head_dim;
    int64_t per_layer = h * (q + 2 * kv) + q * h + 3 * h * f + 2 * h;
    int64_t params = cfg.vocab_size * h * (cfg.tie_word_embeddings ? 1 : 2) + cfg.num_layers * per_layer + h;
    int64_t weights = params * 4;
    /* a decode step reads every weight once except the untied embedding table (one row of it) */
    int64_t read_per_token = weights - (cfg.tie_word_embeddings ? 0 : cfg.vocab_size * h * 4);
    int64_t kv_cache = 2 * cfg.num_layers * cfg.num_kv_heads * cfg.max_positions * cfg.head_dim * 4;
    int64_t kv_used = kv_cache / cfg.max_positions * (PROMPT + NEW_TOKENS);
    int64_t widest = f * PROMPT * 4;

    printf("{\"workload\": \"llama30m_prefill_%d\", \"mode\": \"inference\", \"seconds\": %e, \"threads\": %zu}\n",
           PROMPT, prefill, threads);
    printf("{\"workload\": \"llama30m_decode_cache_%d\", \"mode\": \"inference\", \"seconds\": %e, \"threads\": %zu, "
           "\"weight_bytes_read\": %lld}\n",
           PROMPT, decode, threads, (long long)read_per_token);
    printf("{\"workload\": \"llama30m_generate_%d_plus_%d\", \"mode\": \"inference\", \"peak_bytes\": %llu, "
           "\"live_bytes_before\": %llu, \"weights_bytes\": %lld, \"kv_cache_bytes\": %lld, \"kv_cache_used_bytes\": %lld, "
           "\"widest_activation_bytes\": %lld, \"target_bytes\": %lld}\n",
           PROMPT, NEW_TOKENS, (unsigned long long)after.peak_bytes, (unsigned long long)before.live_bytes,
           (long long)weights, (long long)kv_cache, (long long)kv_used, (long long)widest,
           (long long)(weights + kv_cache + 4 * widest));
    rt_module_free(m);
    return 0;
}
