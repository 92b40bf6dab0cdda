/* A Hugging Face Llama checkpoint (tests/fixtures/llama, trained and saved by
 * tests/reference/llama_tiny.py with `transformers`' LlamaForCausalLM and save_pretrained) loads
 * strictly into the model examples_c/llama_model.h builds from caller-defined modules, tied and
 * untied; its prompt logits match transformers' to 1e-4 and its greedy tokens, generated with the
 * KV cache, equal generate()'s exactly (expected.json, written by the same script). */
#include "harness.h"

#include "../examples_c/llama_model.h"

/* tests/fixtures/llama/NAME, found from this file's own path. */
static const char *llama_fixture(const char *name) {
    static char buf[1024];
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    snprintf(buf, sizeof buf, "%.*s/../tests/fixtures/llama/%s", slash ? (int)(slash - here) : 1, slash ? here : ".", name);
    return buf;
}

/* The numbers of the JSON array under "key" in json, into a malloc'd array of *n doubles. */
static double *json_array(const char *json, const char *key, size_t *n) {
    const char *p = llama_json_value(json, key);
    CHECK(p != NULL && *p == '[');
    size_t cap = 64, len = 0;
    double *v = malloc(cap * sizeof *v);
    CHECK(v != NULL);
    p++;
    while (*p && *p != ']') {
        char *end = NULL;
        double d = strtod(p, &end);
        CHECK(end != p);
        if (len == cap) {
            cap *= 2;
            v = realloc(v, cap * sizeof *v);
            CHECK(v != NULL);
        }
        v[len++] = d;
        p = end;
        while (*p == ',' || *p == ' ' || *p == '\n') p++;
    }
    *n = len;
    return v;
}

typedef struct {
    llama_config cfg;
    rt_module *model;
    llama_state *state;
    char *expected;
    int64_t *prompt, *greedy;
    size_t n_prompt, n_greedy;
} fixture_model;

static int64_t *as_ids(const double *v, size_t n) {
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    CHECK(ids != NULL);
    for (size_t i = 0; i < n; i++) ids[i] = (int64_t)v[i];
    return ids;
}

static fixture_model load_fixture(const char *which) {
    fixture_model f = {0};
    char folder[1024];
    snprintf(folder, sizeof folder, "%s", llama_fixture(which));
    CHECK(llama_read_config(folder, &f.cfg));
    CHECK_OK(llama_build(&f.cfg, &f.model, &f.state));
    CHECK_OK(llama_load(f.model, folder));
    CHECK_OK(rt_module_train(f.model, false));
    char path[1100];
    CHECK(snprintf(path, sizeof path, "%s/expected.json", folder) < (int)sizeof path);
    f.expected = llama_read_file(path, NULL);
    CHECK(f.expected != NULL);
    double *v = json_array(f.expected, "prompt_ids", &f.n_prompt);
    f.prompt = as_ids(v, f.n_prompt);
    free(v);
    v = json_array(f.expected, "greedy_ids", &f.n_greedy);
    f.greedy = as_ids(v, f.n_greedy);
    free(v);
    return f;
}

static void free_fixture(fixture_model *f) {
    CHECK_OK(rt_module_free(f->model));
    free(f->expected), free(f->prompt), free(f->greedy);
}

static void prompt_logits_match(const char *which) {
    fixture_model f = load_fixture(which);
    size_t n = 0;
    double *want = json_array(f.expected, "prompt_logits", &n);
    CHECK(n == f.n_prompt * (size_t)f.cfg.vocab_size);
    rt_tensor *logits = NULL;
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(llama_run(f.model, f.prompt, (int64_t)f.n_prompt, &logits));
    CHECK_OK(rt_inference_mode_exit());
    float *got = malloc(n * sizeof *got);
    CHECK(got != NULL);
    read_f32(logits, got, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    fprintf(stderr, "  %s: largest logit difference from transformers %.3g\n", which, worst);
    CHECK(worst <= 1e-4);
    free(got), free(want);
    CHECK_OK(rt_tensor_free(logits));
    free_fixture(&f);
}

static void greedy_tokens_match(const char *which) {
    fixture_model f = load_fixture(which);
    int64_t *got = malloc(f.n_greedy * sizeof *got);
    CHECK(got != NULL);
    CHECK_OK(llama_generate(f.model, f.state, f.prompt, (int64_t)f.n_prompt, (int64_t)f.n_greedy, 0.0, 0, got));
    for (size_t i = 0; i < f.n_greedy; i++) {
        if (got[i] != f.greedy[i]) fprintf(stderr, "  token %zu: %lld, transformers %lld\n", i, (long long)got[i], (long long)f.greedy[i]);
        CHECK(got[i] == f.greedy[i]);
    }
    free(got);
    free_fixture(&f);
}

TEST(tied_checkpoint_loads_strictly_and_its_prompt_logits_match_transformers) { prompt_logits_match("tied"); }
TEST(untied_checkpoint_loads_strictly_and_its_prompt_logits_match_transformers) { prompt_logits_match("untied"); }
TEST(tied_greedy_tokens_with_the_kv_cache_equal_transformers_generate) { greedy_tokens_match("tied"); }
TEST(untied_greedy_tokens_with_the_kv_cache_equal_transformers_generate) { greedy_tokens_match("untied"); }

/* The cache changes the schedule, not the numbers: the logits of each position decoded one token at
   a time after a cached prefix equal those of one full forward pass over the whole sequence. */
TEST(cached_decoding_gives_the_logits_of_a_full_forward) {
    fixture_model f = load_fixture("untied");
    int64_t n = (int64_t)f.n_prompt, vocab = f.cfg.vocab_size, split = n / 2;
    rt_tensor *full = NULL, *part = NULL;
    float *want = malloc((size_t)(n * vocab) * sizeof *want), *got = malloc((size_t)vocab * sizeof *got);
    CHECK(want != NULL && got != NULL);
    CHECK_OK(rt_inference_mode_enter(true));
    CHECK_OK(llama_run(f.model, f.prompt, n, &full));
    read_f32(full, want, (size_t)(n * vocab));
    llama_cache_reset(f.state);
    /* a prefix of several tokens, two tokens (a lower-right causal mask), then one at a time */
    CHECK_OK(llama_run(f.model, f.prompt, split, &part));
    CHECK_OK(rt_tensor_free(part));
    CHECK_OK(llama_run(f.model, f.prompt + split, 2, &part));
    float two[2 * 256];
    CHECK(vocab <= 256);
    read_f32(part, two, (size_t)(2 * vocab));
    for (int64_t j = 0; j < 2 * vocab; j++) CHECK_NEAR(two[j], want[split * vocab + j], 1e-4);
    CHECK_OK(rt_tensor_free(part));
    for (int64_t i = split + 2; i < n; i++) {
        CHECK_OK(llama_run(f.model, f.prompt + i, 1, &part));
        read_f32(part, got, (size_t)vocab);
        for (int64_t j = 0; j < vocab; j++) CHECK_NEAR(got[j], want[i * vocab + j], 1e-4);
        CHECK_OK(rt_tensor_free(part));
    }
    llama_cache_off(f.state);
    CHECK_OK(rt_inference_mode_exit());
    CHECK_OK(rt_tensor_free(full));
    free(want), free(got);
    free_fixture(&f);
}

/* The tied model's state_dict names the one tensor twice, as PyTorch's does. */
TEST(tied_embeddings_are_one_tensor_under_two_names) {
    fixture_model f = load_fixture("tied");
    rt_tensor *a = NULL, *b = NULL;
    CHECK_OK(rt_module_get_tensor(f.model, "lm_head.weight", &a));
    CHECK_OK(rt_module_get_tensor(f.model, "model.embed_tokens.weight", &b));
    const void *pa = NULL, *pb = NULL;
    CHECK_OK(rt_tensor_data_ptr(a, &pa));
    CHECK_OK(rt_tensor_data_ptr(b, &pb));
    CHECK(pa == pb);
    CHECK_OK(rt_tensor_free(a));
    CHECK_OK(rt_tensor_free(b));
    free_fixture(&f);
}
