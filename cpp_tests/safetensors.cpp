/* infer::SafeTensors and Module::load_safetensors / save_safetensors: files made by PyTorch
 * (tests/fixtures/, from tests/reference/make_safetensors_fixtures.py), round trips, errors, and the
 * handle's RAII. */
#include <dirent.h>
#include <unistd.h>

#include "harness.hpp"

using infer::Module;
using infer::SafeTensors;
using infer::Tensor;
using V = std::vector<float>;
using Names = std::vector<std::string>;

/* tests/fixtures/NAME, found from this file's path. */
static std::string fixture(const char *name) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/')) + "/../tests/fixtures/" + name;
}

/* A fresh directory, removed with its files at scope exit. */
struct Scratch {
    std::string dir;
    Scratch() {
        char tmpl[] = "/tmp/infer-cpp-st-XXXXXX";
        CHECK(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
    }
    ~Scratch() {
        for (const std::string &f : files()) unlink((dir + "/" + f).c_str());
        rmdir(dir.c_str());
    }
    std::string path(const char *name) const { return dir + "/" + name; }
    Names files() const {
        Names out;
        DIR *d = opendir(dir.c_str());
        for (dirent *e; d && (e = readdir(d)) != nullptr;)
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
        if (d) closedir(d);
        return out;
    }
};

static Module mlp() { return Module::sequential(Module::linear(4, 8), Module::relu(), Module::linear(8, 3)); }

TEST(pytorch_state_dict_reproduces_pytorch_output) {
    SafeTensors io = SafeTensors::open(fixture("mlp_io.safetensors"));
    CHECK(io.count() == 3);
    CHECK(io.names() == (Names{"input", "output", "output_f16"}));
    CHECK(io.name(1) == "output");
    Tensor x = io.get("input");
    /* the F32 weights, and the same stored as F16 (loaded into F32 parameters) */
    for (auto [weights, output] : {std::pair{"mlp.safetensors", "output"}, std::pair{"mlp_f16.safetensors", "output_f16"}}) {
        Module m = mlp();
        m.load_safetensors(fixture(weights));
        CHECK_ALL_NEAR(m(x).to_vector<float>(), io.get(output).to_vector<float>(), 1e-5);
    }
}

TEST(save_then_open_round_trip_and_tensors_outlive_the_file) {
    Scratch s;
    Tensor a = infer::from_data(V{1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1); /* strided: saved row-major */
    Tensor b = infer::from_data(std::vector<int64_t>{7, -8}, {2});
    SafeTensors::save(s.path("t.safetensors"), {{"b", &b}, {"a", &a}});
    CHECK(s.files() == Names{"t.safetensors"}); /* no temporary file left */
    Tensor a2, b2;
    {
        SafeTensors f = SafeTensors::open(s.path("t.safetensors"));
        CHECK(f.names() == (Names{"a", "b"})); /* sorted */
        a2 = f.get("a");
        b2 = f.get("b");
    }
    CHECK(a2.shape() == (std::vector<int64_t>{3, 2}));
    CHECK(a2.to_vector<float>() == (V{1, 4, 2, 5, 3, 6}));
    CHECK(b2.dtype() == infer::Dtype::I64 && b2.to_vector<int64_t>() == (std::vector<int64_t>{7, -8}));
    {
        infer::InferenceModeGuard guard;
        CHECK(SafeTensors::open(s.path("t.safetensors")).get("a").is_inference());
    }
}

TEST(module_save_and_load_round_trip) {
    Scratch s;
    infer::manual_seed(1);
    Module from = mlp(), to = mlp();
    Tensor x = infer::randn({5, 4});
    from.save_safetensors(s.path("m.safetensors"));
    CHECK(SafeTensors::open(s.path("m.safetensors")).names() == (Names{"0.bias", "0.weight", "2.bias", "2.weight"}));
    uint64_t version = to.get_tensor("0.weight").version();
    to.load_safetensors(s.path("m.safetensors"));
    CHECK(to.get_tensor("0.weight").version() == version + 1);
    CHECK_ALL_NEAR(to(x).to_vector<float>(), from(x).to_vector<float>(), 0);
}

TEST(strict_and_non_strict_loads) {
    Scratch s;
    Module m = mlp();
    Tensor w = infer::ones({8, 4});
    SafeTensors::save(s.path("part.safetensors"), {{"0.weight", &w}});
    infer::Error e = EXPECT_ERROR(m.load_safetensors(s.path("part.safetensors")), RT_ERR_INVALID_ARGUMENT);
    CHECK(harness::mentions(e, "0.bias"));
    CHECK(m.get_tensor("0.weight").to_vector<float>() != V(32, 1.0f)); /* all or nothing */
    m.load_safetensors(s.path("part.safetensors"), /*strict=*/false);
    CHECK(m.get_tensor("0.weight").to_vector<float>() == V(32, 1.0f));

    Tensor wrong = infer::ones({4, 8});
    SafeTensors::save(s.path("wrong.safetensors"), {{"0.weight", &wrong}});
    EXPECT_ERROR(m.load_safetensors(s.path("wrong.safetensors"), false), RT_ERR_SHAPE);
}

TEST(errors_carry_status_and_message) {
    Scratch s;
    infer::Error e = EXPECT_ERROR(SafeTensors::open(s.path("missing.safetensors")), RT_ERR_IO);
    CHECK(harness::mentions(e, "missing.safetensors"));
    EXPECT_ERROR(mlp().load_safetensors(s.path("missing.safetensors")), RT_ERR_IO);
    SafeTensors f = SafeTensors::open(fixture("mlp.safetensors"));
    EXPECT_ERROR(f.get("nope"), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(f.name(99), RT_ERR_INVALID_ARGUMENT);
    Tensor t = infer::zeros({1});
    EXPECT_ERROR(SafeTensors::save(s.path("dup.safetensors"), {{"x", &t}, {"x", &t}}), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(SafeTensors::save(s.path("null.safetensors"), {{"x", nullptr}}), RT_ERR_NULL_ARGUMENT);
    CHECK(s.files().empty());
    std::FILE *junk = std::fopen(s.path("junk.safetensors").c_str(), "wb");
    std::fputs("not a safetensors file", junk);
    std::fclose(junk);
    EXPECT_ERROR(SafeTensors::open(s.path("junk.safetensors")), RT_ERR_FORMAT);
}

TEST(safetensors_handle_is_move_only_and_freed) {
    SafeTensors f = SafeTensors::open(fixture("mlp.safetensors"));
    rt_safetensors *h = f.get();
    SafeTensors g = std::move(f);
    CHECK(!f && g.get() == h);
    EXPECT_ERROR(f.count(), RT_ERR_NULL_ARGUMENT);
    CHECK(g.count() == 4);
    g.reset();
    /* the handle is freed: the library refuses it */
    size_t n = 0;
    CHECK(rt_safetensors_count(h, &n) == RT_ERR_INVALID_HANDLE);
    static_assert(!std::is_copy_constructible_v<SafeTensors>, "SafeTensors is move-only");
}
