/* Generates text with the small character-level Llama of tests/fixtures/llama from C++: the model of
 * llama.hpp (infer.hpp's Module::custom, RAII handles, exceptions) loads the Hugging Face checkpoint
 * and generates with a KV cache, greedily and then sampled (temperature 0.8, top-k 10).
 *
 *   usage: llama_cpp [checkpoint folder] [prompt] [new tokens]
 * (defaults: $INFER_LLAMA_DIR or tests/fixtures/llama/untied; "A tensor "; 55)
 *
 * vocab.txt lists each id's Unicode code point, one per line (ASCII in the fixtures); a real model
 * would use its tokenizer to turn text into ids and back, and nothing else here would change. */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include "llama.hpp"

static std::vector<char> read_vocab(const std::string &folder) {
    std::istringstream lines(llama::read_text(folder + "/vocab.txt"));
    std::vector<char> vocab;
    for (long cp; lines >> cp;) vocab.push_back(cp < 128 ? static_cast<char>(cp) : '?');
    return vocab;
}

static std::string decode(const std::vector<char> &vocab, const std::vector<int64_t> &ids) {
    std::string text;
    for (int64_t id : ids) text += vocab.at(static_cast<size_t>(id));
    return text;
}

int main(int argc, char **argv) try {
    const char *env = std::getenv("INFER_LLAMA_DIR");
    std::string folder = argc > 1 ? argv[1] : env ? env : "tests/fixtures/llama/untied";
    std::string prompt_text = argc > 2 ? argv[2] : "A tensor ";
    int64_t n_new = argc > 3 ? std::atoll(argv[3]) : 55; /* 64 positions with the prompt, as in training */

    std::vector<char> vocab = read_vocab(folder);
    std::vector<int64_t> prompt;
    for (char ch : prompt_text) {
        auto hit = std::find(vocab.begin(), vocab.end(), ch);
        if (hit == vocab.end()) throw std::runtime_error(std::string("the prompt's character '") + ch + "' is not in the vocabulary");
        prompt.push_back(hit - vocab.begin());
    }
    llama::Llama model = llama::Llama::from_pretrained(folder);
    const llama::Config &c = model.config();
    std::printf("loaded %s: %lld layers, hidden %lld, %lld query / %lld k/v heads, %s embeddings\n", folder.c_str(),
                (long long)c.num_layers, (long long)c.hidden_size, (long long)c.num_heads, (long long)c.num_kv_heads,
                c.tie_word_embeddings ? "tied" : "untied");

    auto t0 = std::chrono::steady_clock::now();
    std::vector<int64_t> greedy = model.generate(prompt, n_new);
    std::chrono::duration<double> greedy_s = std::chrono::steady_clock::now() - t0;
    std::printf("greedy:  \"%s%s\n         %.0f tokens/s\n", prompt_text.c_str(), decode(vocab, greedy).c_str(),
                double(n_new) / greedy_s.count());

    infer::manual_seed(7);
    std::vector<int64_t> sampled = model.generate(prompt, n_new, 0.8, 10);
    std::printf("sampled: \"%s%s\n         temperature 0.8, top-k 10, seed 7\n", prompt_text.c_str(),
                decode(vocab, sampled).c_str());
    std::printf("summary: generated %lld tokens greedily and %lld sampled\n", (long long)n_new, (long long)n_new);
    return 0;
} catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
