/* The C++ Llama of examples_cpp/llama.hpp (infer.hpp's Module::custom) against `transformers` on
 * the checkpoints of tests/fixtures/llama (tied and untied, written by tests/reference/llama_tiny.py
 * with their expected.json): a strict load of the Hugging Face names, prompt logits within 1e-4 and
 * greedy tokens, generated with the KV cache, equal to generate()'s. */
#include "../examples_cpp/llama.hpp"
#include "harness.hpp"

/* tests/fixtures/llama/NAME, found from this file's own path. */
static std::string fixture(const std::string &name) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/') + 1) + "../tests/fixtures/llama/" + name;
}

/* The numbers of the JSON array under "key". */
static std::vector<double> json_array(const std::string &json, const std::string &key) {
    size_t at = llama::json_value(json, key);
    CHECK(at != std::string::npos && json[at] == '[');
    std::vector<double> v;
    const char *p = json.c_str() + at + 1;
    while (*p && *p != ']') {
        char *end = nullptr;
        v.push_back(std::strtod(p, &end));
        CHECK(end != p);
        p = end + std::strspn(end, ", \n");
    }
    return v;
}

static std::vector<int64_t> as_ids(const std::vector<double> &v) { return std::vector<int64_t>(v.begin(), v.end()); }

static void prompt_logits_match(const std::string &which) {
    std::string expected = llama::read_text(fixture(which) + "/expected.json");
    llama::Llama model = llama::Llama::from_pretrained(fixture(which));
    CHECK(model.config().tie_word_embeddings == (which == "tied"));
    std::vector<double> want = json_array(expected, "prompt_logits");
    infer::InferenceModeGuard inference;
    std::vector<float> got = model.logits(as_ids(json_array(expected, "prompt_ids"))).to_vector<float>();
    CHECK_ALL_NEAR(got, std::vector<float>(want.begin(), want.end()), 1e-4);
}

static void greedy_tokens_match(const std::string &which) {
    std::string expected = llama::read_text(fixture(which) + "/expected.json");
    llama::Llama model = llama::Llama::from_pretrained(fixture(which));
    std::vector<int64_t> want = as_ids(json_array(expected, "greedy_ids"));
    CHECK(!want.empty());
    std::vector<int64_t> got = model.generate(as_ids(json_array(expected, "prompt_ids")), int64_t(want.size()));
    for (size_t i = 0; i < want.size(); i++) {
        if (got.at(i) != want[i]) std::fprintf(stderr, "  token %zu: %lld, transformers %lld\n", i, (long long)got[i], (long long)want[i]);
    }
    CHECK(got == want);
    /* the cache is off again afterwards: a second generation gives the same tokens */
    CHECK(model.generate(as_ids(json_array(expected, "prompt_ids")), int64_t(want.size())) == want);
}

TEST(tied_prompt_logits_match_transformers) { prompt_logits_match("tied"); }
TEST(untied_prompt_logits_match_transformers) { prompt_logits_match("untied"); }
TEST(tied_greedy_tokens_with_the_kv_cache_equal_transformers_generate) { greedy_tokens_match("tied"); }
TEST(untied_greedy_tokens_with_the_kv_cache_equal_transformers_generate) { greedy_tokens_match("untied"); }

TEST(sampling_is_seeded_and_stays_in_the_top_k) {
    llama::Llama model = llama::Llama::from_pretrained(fixture("untied"));
    std::vector<int64_t> prompt = {1, 2, 3};
    infer::manual_seed(7);
    std::vector<int64_t> a = model.generate(prompt, 24, 0.8, 1);
    /* top-k 1 is greedy whatever the temperature */
    CHECK(a == model.generate(prompt, 24));
    infer::manual_seed(7);
    std::vector<int64_t> b = model.generate(prompt, 24, 0.8, 10);
    infer::manual_seed(7);
    CHECK(b == model.generate(prompt, 24, 0.8, 10));
}

TEST(a_checkpoint_of_the_wrong_shape_is_refused) {
    llama::Config c = llama::read_config(fixture("untied"));
    c.hidden_size += 1;
    llama::Llama model(c);
    EXPECT_ERROR(model.module().get_module("").load_safetensors(fixture("untied") + "/model.safetensors"), RT_ERR_SHAPE);
}

TEST(more_positions_than_the_cache_holds_are_refused) {
    llama::Llama model = llama::Llama::from_pretrained(fixture("untied"));
    int64_t max = model.config().max_positions;
    try {
        model.generate(std::vector<int64_t>(size_t(max), 1), 1);
        CHECK(false);
    } catch (const std::invalid_argument &e) {
        CHECK(std::string(e.what()).find("max_position_embeddings") != std::string::npos);
    }
    /* the forward itself refuses too, as an infer::Error from the library */
    EXPECT_ERROR(model.logits(std::vector<int64_t>(size_t(max + 1), 1)), RT_ERR_INVALID_ARGUMENT);
}
