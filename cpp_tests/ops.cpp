/* Every Tensor method reaches the C function it names: small inputs with hand-computed values. */
#include "harness.hpp"

using infer::Dtype;
using infer::Tensor;
using V = std::vector<float>;
using Dims = std::vector<int64_t>;

static Tensor t23() { return infer::from_data(V{1, 2, 3, 4, 5, 6}, {2, 3}); }
static Tensor vec(V v) { return infer::from_data(v, {int64_t(v.size())}); }
static V values(const Tensor &t) { return t.to_vector<float>(); }

TEST(factories_and_inspection) {
    Tensor z = infer::zeros({2, 3});
    CHECK(z.ndim() == 2 && z.numel() == 6 && z.shape() == (Dims{2, 3}) && z.dtype() == Dtype::F32);
    CHECK_ALL_NEAR(values(infer::ones({2})), (V{1, 1}), 0);
    Tensor f = infer::full({2}, 3.0, Dtype::I64);
    CHECK(f.to_vector<int64_t>() == (std::vector<int64_t>{3, 3}));
    CHECK(infer::zeros({}).shape().empty());
    infer::manual_seed(5);
    V r = values(infer::rand({100}));
    for (float x : r) CHECK(x >= 0 && x < 1);
    CHECK(infer::randn({3, 4}).shape() == (Dims{3, 4}));
    int64_t raw[] = {4, 5};
    CHECK(Tensor::from_data(infer::Span<int64_t>(raw, 2), {2}).to_vector<int64_t>() == (std::vector<int64_t>{4, 5}));
    Tensor a = t23();
    CHECK(a.is_contiguous() && a.is_leaf() && !a.has_grad_fn() && !a.is_view() && !a.is_inference());
    CHECK(a.version() == 0);
    const float *p = static_cast<const float *>(a.data_ptr());
    CHECK(p[0] == 1 && p[5] == 6);
    float buf[6];
    a.copy_to(buf, 6);
    CHECK(buf[3] == 4);
    CHECK_NEAR(infer::full({1, 1}, 2.5).item(), 2.5, 0);
}

static void count_free(void *, void *ctx) { ++*static_cast<int *>(ctx); }

TEST(from_blob_runs_its_deleter_once) {
    float data[3] = {1, 2, 3};
    int freed = 0;
    {
        Tensor t = Tensor::from_blob(data, 3, {3}, count_free, &freed);
        Tensor v = t.view({1, 3});
        data[1] = 9; /* no copy: the tensor sees the change */
        CHECK_ALL_NEAR(values(v), (V{1, 9, 3}), 0);
        t.reset();
        CHECK(freed == 0);
    }
    CHECK(freed == 1);
}

TEST(binary_and_scalar_ops) {
    Tensor a = t23();
    Tensor b = infer::from_data(V{1, 1, 1, 2, 2, 2}, {2, 3});
    CHECK_ALL_NEAR(values(a + b), (V{2, 3, 4, 6, 7, 8}), 0);
    CHECK_ALL_NEAR(values(a - b), (V{0, 1, 2, 2, 3, 4}), 0);
    CHECK_ALL_NEAR(values(a * b), (V{1, 2, 3, 8, 10, 12}), 0);
    CHECK_ALL_NEAR(values(a / b), (V{1, 2, 3, 2, 2.5, 3}), 0);
    CHECK_ALL_NEAR(values(a + vec({10, 20, 30})), (V{11, 22, 33, 14, 25, 36}), 0); /* broadcast */
    CHECK_ALL_NEAR(values(a.matmul(a.transpose(0, 1))), (V{14, 32, 32, 77}), 0);
    CHECK_ALL_NEAR(values(infer::matmul(vec({1, 2}), vec({3, 4}))), (V{11}), 0);
    CHECK_ALL_NEAR(values(a + 0.5), (V{1.5, 2.5, 3.5, 4.5, 5.5, 6.5}), 0);
    CHECK_ALL_NEAR(values(a - 1.0), (V{0, 1, 2, 3, 4, 5}), 0);
    CHECK_ALL_NEAR(values(a * 2.0), (V{2, 4, 6, 8, 10, 12}), 0);
    CHECK_ALL_NEAR(values(a.pow(2)), (V{1, 4, 9, 16, 25, 36}), 0);
    CHECK_ALL_NEAR(values(-a), (V{-1, -2, -3, -4, -5, -6}), 0);
    Tensor w = infer::from_data(V{1, 0, 0, 0, 1, 1}, {2, 3});
    CHECK_ALL_NEAR(values(infer::linear(a, w, vec({100, 200}))), (V{101, 205, 104, 211}), 0);
    CHECK_ALL_NEAR(values(infer::linear(a, w)), (V{1, 5, 4, 11}), 0);
}

TEST(unary_ops) {
    Tensor x = vec({-1, 0, 2});
    CHECK_ALL_NEAR(values(x.relu()), (V{0, 0, 2}), 0);
    CHECK_ALL_NEAR(values(x.neg()), (V{1, 0, -2}), 0);
    CHECK_ALL_NEAR(values(x.exp()), (V{0.367879441f, 1, 7.38905610f}), 1e-6);
    CHECK_ALL_NEAR(values(vec({1, 2.718281828f}).log()), (V{0, 1}), 1e-6);
    CHECK_ALL_NEAR(values(vec({4, 9}).sqrt()), (V{2, 3}), 0);
    CHECK_ALL_NEAR(values(x.sigmoid()), (V{0.268941421f, 0.5f, 0.880797078f}), 1e-6);
    CHECK_ALL_NEAR(values(x.tanh()), (V{-0.761594156f, 0, 0.964027580f}), 1e-6);
    CHECK_ALL_NEAR(values(x.gelu()), (V{-0.158655254f, 0, 1.95449974f}), 1e-6);
}

TEST(reductions_and_conversions) {
    Tensor a = t23();
    CHECK_ALL_NEAR(values(a.sum()), (V{21}), 0);
    CHECK(a.sum().shape().empty());
    CHECK_ALL_NEAR(values(a.sum({0})), (V{5, 7, 9}), 0);
    Tensor k = a.sum({1}, true);
    CHECK(k.shape() == (Dims{2, 1}));
    CHECK_ALL_NEAR(values(k), (V{6, 15}), 0);
    CHECK_NEAR(a.mean().item(), 3.5, 0);
    CHECK_ALL_NEAR(values(a.mean({-1})), (V{2, 5}), 0);
    CHECK(infer::from_data(V{1, 7, 3, 9, 2, 4}, {2, 3}).argmax(1).to_vector<int64_t>() == (std::vector<int64_t>{1, 0}));
    CHECK(a.argmax(0, true).shape() == (Dims{1, 3}));
    CHECK(vec({1.7f, -1.7f}).to(Dtype::I64).to_vector<int64_t>() == (std::vector<int64_t>{1, -1}));
    Tensor c = a.clone();
    c.add_(1.0);
    CHECK_ALL_NEAR(values(a), (V{1, 2, 3, 4, 5, 6}), 0); /* clone copies */
    Tensor r = a.share();
    r.set_requires_grad();
    CHECK(!r.detach().requires_grad());
    Tensor cat = infer::cat({&a, &c}, 0);
    CHECK(cat.shape() == (Dims{4, 3}));
    CHECK_ALL_NEAR(values(infer::cat({&a, &a}, 1).select(0, 0)), (V{1, 2, 3, 1, 2, 3}), 0);
}

TEST(views) {
    Tensor a = t23();
    Tensor t = a.transpose(0, 1);
    CHECK(t.is_view() && !t.is_contiguous());
    CHECK_ALL_NEAR(values(t), (V{1, 4, 2, 5, 3, 6}), 0);
    CHECK(t.contiguous().is_contiguous());
    EXPECT_ERROR(t.view({6}), RT_ERR_SHAPE); /* needs a copy */
    CHECK(t.reshape({-1}).shape() == (Dims{6}));
    CHECK(a.view({3, -1}).shape() == (Dims{3, 2}));
    CHECK_ALL_NEAR(values(a.permute({1, 0})), values(t), 0);
    CHECK_ALL_NEAR(values(a.narrow(1, 1, 2)), (V{2, 3, 5, 6}), 0);
    CHECK_ALL_NEAR(values(a.select(0, 1)), (V{4, 5, 6}), 0);
    Tensor u = a.unsqueeze(0);
    CHECK(u.shape() == (Dims{1, 2, 3}));
    CHECK(u.squeeze(0).shape() == (Dims{2, 3}));
    CHECK(a.squeeze(0).shape() == (Dims{2, 3})); /* size 2: unchanged */
    CHECK_ALL_NEAR(values(vec({1, 2, 3}).unsqueeze(0).expand({2, -1})), (V{1, 2, 3, 1, 2, 3}), 0);
    CHECK(u.flatten().shape() == (Dims{6}));
    CHECK(u.flatten(1).shape() == (Dims{1, 6}));
    Tensor s = a.select(1, 2);
    a.mul_(10.0);
    CHECK_ALL_NEAR(values(s), (V{30, 60}), 0); /* shares storage */
}

TEST(in_place_ops) {
    Tensor a = vec({1, 2, 3});
    Tensor b = vec({1, 1, 2});
    CHECK_ALL_NEAR(values(a.add_(b)), (V{2, 3, 5}), 0);
    CHECK_ALL_NEAR(values(a.sub_(b)), (V{1, 2, 3}), 0);
    CHECK_ALL_NEAR(values(a.mul_(b)), (V{1, 2, 6}), 0);
    CHECK_ALL_NEAR(values(a.add_(1.0)), (V{2, 3, 7}), 0);
    CHECK_ALL_NEAR(values(a.mul_(0.5)), (V{1, 1.5, 3.5}), 0);
    CHECK_ALL_NEAR(values(a.copy_(infer::full({1}, 4.0))), (V{4, 4, 4}), 0);
    CHECK_ALL_NEAR(values(a.fill_(-2)), (V{-2, -2, -2}), 0);
    CHECK_ALL_NEAR(values(a.zero_()), (V{0, 0, 0}), 0);
    CHECK(a.version() == 8);
    Tensor leaf = vec({1});
    leaf.set_requires_grad();
    EXPECT_ERROR(leaf.add_(1.0), RT_ERR_AUTOGRAD);
    {
        infer::NoGradGuard g;
        leaf.add_(1.0); /* allowed under no_grad, as in PyTorch */
    }
    CHECK_NEAR(leaf.item(), 2, 0);
}

TEST(autograd_methods) {
    Tensor x = vec({1, 2, 3});
    x.set_requires_grad();
    CHECK(x.requires_grad());
    Tensor y = x * 2.0;
    CHECK(y.has_grad_fn() && !y.is_leaf());
    y.retain_grad();
    y.backward(vec({1, 10, 100}), true);
    CHECK_ALL_NEAR(values(*x.grad()), (V{2, 20, 200}), 0);
    CHECK_ALL_NEAR(values(*y.grad()), (V{1, 10, 100}), 0);
    y.backward(vec({1, 1, 1})); /* gradients accumulate */
    CHECK_ALL_NEAR(values(*x.grad()), (V{4, 22, 202}), 0);
    EXPECT_ERROR(y.backward(vec({1, 1, 1})), RT_ERR_AUTOGRAD); /* graph freed */
    x.set_grad(vec({7, 7, 7}));
    CHECK_ALL_NEAR(values(*x.grad()), (V{7, 7, 7}), 0);
    x.clear_grad();
    CHECK(!x.grad());
    x.set_requires_grad(false);
    CHECK(!x.requires_grad());
}

TEST(runtime_functions) {
    CHECK(infer::abi_version() == RT_ABI_VERSION);
    CHECK(std::strlen(infer::version_string()) > 0);
    infer::set_num_threads(1);
    CHECK(infer::get_num_threads() == 1);
    infer::set_num_threads(0);
    CHECK(infer::get_num_threads() >= 1);
    Tensor big = infer::zeros({1024});
    infer::reset_peak_memory();
    rt_memory_stats s = infer::memory_stats();
    CHECK(s.peak_bytes == s.live_bytes && s.live_bytes >= 4096);
}
