/* Generates text with a small character-level Llama: a Hugging Face `LlamaForCausalLM` checkpoint
 * (config.json + model.safetensors as save_pretrained writes them) loaded by its own names into a
 * model built from libinfer's caller-defined modules (llama_model.h), generating in inference mode
 * with a KV cache, greedily and then sampled (temperature, top-k).
 *
 *   usage: llama [checkpoint folder] [prompt] [new tokens]
 * (defaults: $INFER_LLAMA_DIR or tests/fixtures/llama/untied; "A tensor "; 55)
 *
 * The checkpoint is character-level: vocab.txt lists each id's Unicode code point, one per line.
 * A real model would pair libinfer with its own tokenizer (for example the `tokenizers` library's
 * C bindings, or a tokenizer service): encode the prompt to ids, run llama_generate, decode the
 * ids; nothing else here changes. */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "llama_model.h"

static void check(rt_status s, const char *what, int line) {
    if (s != RT_OK) {
        char msg[1024];
        rt_last_error_message(msg, sizeof msg);
        fprintf(stderr, "llama.c:%d: %s failed: %s (%s)\n", line, what, rt_status_str(s), msg);
        exit(1);
    }
}
#define CHECK(call) check((call), #call, __LINE__)

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* vocab.txt: one code point per id; ASCII only here (the fixtures are), others print as '?'. */
static int64_t read_vocab(const char *folder, char *chars, int64_t cap) {
    char path[1024];
    snprintf(path, sizeof path, "%s/vocab.txt", folder);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "error: cannot read %s\n", path);
        exit(1);
    }
    int64_t n = 0;
    long cp;
    while (n < cap && fscanf(f, "%ld", &cp) == 1) chars[n++] = cp < 128 ? (char)cp : '?';
    fclose(f);
    return n;
}

static void print_ids(const char *label, const char *vocab, const int64_t *ids, int64_t n) {
    printf("%s", label);
    for (int64_t i = 0; i < n; i++) putchar(vocab[ids[i]]);
    printf("\"\n");
}

static double peak_mib(void) {
    rt_memory_stats s;
    CHECK(rt_memory_stats_get(&s));
    return (double)s.peak_bytes / (1024.0 * 1024.0);
}

int main(int argc, char **argv) {
    const char *env = getenv("INFER_LLAMA_DIR");
    const char *folder = argc > 1 ? argv[1] : env ? env : "tests/fixtures/llama/untied";
    const char *prompt_text = argc > 2 ? argv[2] : "A tensor ";
    int64_t n_new = argc > 3 ? atoll(argv[3]) : 55; /* the prompt and these fill the 64 positions the model trained on */
    char vocab[4096];
    int64_t vocab_n = read_vocab(folder, vocab, sizeof vocab);

    llama_config cfg;
    if (!llama_read_config(folder, &cfg)) return 1;
    if (cfg.vocab_size != vocab_n) {
        fprintf(stderr, "error: config.json says %lld tokens, vocab.txt lists %lld\n", (long long)cfg.vocab_size, (long long)vocab_n);
        return 1;
    }
    size_t n_prompt = strlen(prompt_text);
    if (n_prompt == 0 || (int64_t)n_prompt + n_new > cfg.max_positions) {
        fprintf(stderr, "error: the prompt and the new tokens must fit in %lld positions\n", (long long)cfg.max_positions);
        return 1;
    }
    int64_t *prompt = malloc(n_prompt * sizeof *prompt), *out = malloc((size_t)n_new * sizeof *out);
    for (size_t i = 0; i < n_prompt; i++) {
        const char *hit = memchr(vocab, prompt_text[i], (size_t)vocab_n);
        if (!hit) {
            fprintf(stderr, "error: the prompt's character '%c' is not in the vocabulary\n", prompt_text[i]);
            return 1;
        }
        prompt[i] = hit - vocab;
    }

    rt_module *model = NULL;
    llama_state *state = NULL;
    CHECK(llama_build(&cfg, &model, &state));
    CHECK(llama_load(model, folder));
    CHECK(rt_module_train(model, false));
    size_t n_tensors = 0;
    CHECK(rt_module_num_tensors(model, &n_tensors));
    printf("loaded %s: %lld layers, hidden %lld, %lld query / %lld k/v heads, %zu tensors, %s embeddings\n", folder,
           (long long)cfg.num_layers, (long long)cfg.hidden_size, (long long)cfg.num_heads, (long long)cfg.num_kv_heads,
           n_tensors, cfg.tie_word_embeddings ? "tied" : "untied");

    rt_memory_reset_peak();
    double t0 = now();
    CHECK(llama_generate(model, state, prompt, (int64_t)n_prompt, n_new, 0.0, 0, out));
    double greedy_s = now() - t0;
    printf("greedy:  \"%s", prompt_text);
    print_ids("", vocab, out, n_new);
    printf("         %.0f tokens/s, peak memory %.2f MiB\n", (double)n_new / greedy_s, peak_mib());

    rt_manual_seed(7);
    t0 = now();
    CHECK(llama_generate(model, state, prompt, (int64_t)n_prompt, n_new, 0.8, 10, out));
    double sampled_s = now() - t0;
    printf("sampled: \"%s", prompt_text);
    print_ids("", vocab, out, n_new);
    printf("         temperature 0.8, top-k 10, seed 7: %.0f tokens/s\n", (double)n_new / sampled_s);

    CHECK(rt_module_free(model));
    free(prompt);
    free(out);
    printf("summary: generated %lld tokens greedily and %lld sampled\n", (long long)n_new, (long long)n_new);
    return 0;
}
