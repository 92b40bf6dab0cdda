/* The wrappers of API.md section 7 (masks, attention, transformer ops and modules) and section 8
 * (AdamW, gradient clipping): each reaches its C function, checked against the PyTorch references
 * the C tests use (the c_tests/ *_ref.h headers, from tests/reference/) or small hand-checked values; errors
 * arrive as infer::Error with the library's status. */
#include <cmath>
#include <iterator>
#include <stdexcept>

#include "../c_tests/attention_ref.h"
#include "../c_tests/bool_masks_ref.h"
#include "../c_tests/ops_models_ref.h"
#include "../c_tests/optim_extra_ref.h"
#include "../c_tests/transformer_ref.h"
#include "harness.hpp"

using infer::Dtype;
using infer::Module;
using infer::Tensor;
using V = std::vector<float>;
using I = std::vector<int64_t>;
using B = std::vector<bool>;

/* A reference array and its `name_shape` as a tensor (F32, I64, or BOOL from bytes). */
template <size_t N, size_t D> static Tensor ref(const float (&data)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(infer::Span<float>(data, N), infer::Span<int64_t>(shape, D));
}
template <size_t N, size_t D> static Tensor ref(const int64_t (&data)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(infer::Span<int64_t>(data, N), infer::Span<int64_t>(shape, D));
}
template <size_t N, size_t D> static Tensor ref(const uint8_t (&data)[N], const int64_t (&shape)[D]) {
    return Tensor::from_data(B(std::begin(data), std::end(data)), infer::Span<int64_t>(shape, D));
}
#define TR(name) ref(name, name##_shape)
#define EXPECT_F32(t, name) CHECK_ALL_NEAR((t).to_vector<float>(), V(std::begin(name), std::end(name)), 1e-4)
#define EXPECT_I64(t, name) CHECK((t).to_vector<int64_t>() == I(std::begin(name), std::end(name)))
#define EXPECT_BOOL(t, name) CHECK((t).dtype() == Dtype::BOOL && (t).to_vector<bool>() == B(std::begin(name), std::end(name)))

static Tensor vec(V v) { return infer::from_data(v, {int64_t(v.size())}); }

/* ---------------------------------------------------------------- 7.C ops */

TEST(unary_ops_match_pytorch) {
    EXPECT_F32(TR(silu_x).silu(), silu_y);
    EXPECT_F32(TR(gelut_x).gelu_tanh(), gelut_y);
    EXPECT_F32(TR(sin_x).sin(), sin_y);
    EXPECT_F32(TR(cos_x).cos(), cos_y);
    EXPECT_F32(TR(abs_x).abs(), abs_y);
    EXPECT_F32(TR(rsqrt_x).rsqrt(), rsqrt_y);
}

TEST(reductions_and_selection_match_pytorch) {
    Tensor x = TR(max_x);
    auto [mv, mi] = x.max_dim(1);
    EXPECT_F32(mv, max_v);
    EXPECT_I64(mi, max_i);
    auto [nv, ni] = x.min_dim(0, true);
    CHECK(nv.shape() == I(std::begin(min_v_shape), std::end(min_v_shape)));
    EXPECT_F32(nv, min_v);
    EXPECT_I64(ni, min_i);
    EXPECT_F32(TR(amax_x).amax({0, -1}), amax_y);
    EXPECT_F32(TR(amaxt_x).amax({1}, true), amaxt_y);
    CHECK_NEAR(vec({1, 7, -2}).amax().item(), 7, 0); /* {} = every dim */
    auto [tv, ti] = TR(top_x).topk(3, 1);
    EXPECT_F32(tv, topl_v);
    EXPECT_I64(ti, topl_i);
    auto [sv, si] = TR(top_x).topk(3, -1, false);
    EXPECT_F32(sv, tops_v);
    EXPECT_I64(si, tops_i);
    EXPECT_F32(TR(isel_x).index_select(1, TR(isel_idx)), isel_y);
    EXPECT_F32(TR(isel_x).gather(-1, TR(gat_idx)), gat_y);
    EXPECT_F32(TR(tri_x).triu(1), triu_y);
    EXPECT_F32(TR(tri_x).tril(-1), tril_y);
    EXPECT_I64(infer::arange(0, 12, 1, Dtype::I64).view({3, 4}).triu(), triu64_y);
}

TEST(arange_stack_and_chunk_match_pytorch) {
    EXPECT_F32(infer::arange(-1, 2, 0.3), ar1);
    EXPECT_F32(infer::arange(0, 1, 0.1), ar2);
    EXPECT_I64(infer::arange(10, -3, -4, Dtype::I64), ar3);
    Tensor a = TR(stk_a), b = TR(stk_b);
    EXPECT_F32(infer::stack({&a, &b}, 1), stk_y);
    std::vector<Tensor> both;
    both.push_back(a.share());
    both.push_back(b.share());
    EXPECT_F32(infer::stack(both, 1), stk_y);

    std::vector<Tensor> parts = infer::arange(0, 7).chunk(3);
    I sizes;
    for (const Tensor &p : parts) {
        CHECK(p.is_view());
        sizes.push_back(p.shape()[0]);
    }
    CHECK(sizes == I(std::begin(chunk7_3), std::end(chunk7_3)));
    CHECK_ALL_NEAR(parts[2].to_vector<float>(), (V{6}), 0);
    /* a dim of size 0: `chunks` empty views, as torch.chunk */
    CHECK(infer::zeros({0}).chunk(2).size() == 2);
}

TEST(multinomial_follows_the_seed) {
    Tensor probs = infer::from_data(V{0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.5f, 0, 0}, {2, 4});
    infer::manual_seed(11);
    Tensor a = probs.multinomial(2);
    infer::manual_seed(11);
    Tensor b = probs.multinomial(2);
    CHECK(a.dtype() == Dtype::I64 && a.shape() == (I{2, 2}));
    CHECK(a.to_vector<int64_t>() == b.to_vector<int64_t>());
    /* without replacement row 1 has only two nonzero choices: both, once each */
    I r = a.to_vector<int64_t>();
    CHECK((r[2] == 0 && r[3] == 1) || (r[2] == 1 && r[3] == 0));
    /* one possible outcome */
    CHECK(vec({0, 0, 1}).multinomial(4, true).to_vector<int64_t>() == (I{2, 2, 2, 2}));
}

TEST(attention_rms_norm_and_rotary_match_pytorch) {
    EXPECT_F32(infer::scaled_dot_product_attention(TR(plain_q), TR(plain_k), TR(plain_v)), plain_y);
    EXPECT_F32(infer::scaled_dot_product_attention(TR(scaled_q), TR(scaled_k), TR(scaled_v), nullptr, 0, false, 0.3),
               scaled_y);
    EXPECT_F32(infer::scaled_dot_product_attention(TR(causal_q), TR(causal_k), TR(causal_v), nullptr, 0, true), causal_y);
    EXPECT_F32(infer::scaled_dot_product_attention(TR(gqa_q), TR(gqa_k), TR(gqa_v), nullptr, 0, false, 0, true), gqa_y);
    Tensor fmask = TR(fmask_mask), bmask = TR(bmask_mask);
    EXPECT_F32(infer::scaled_dot_product_attention(TR(fmask_q), TR(fmask_k), TR(fmask_v), &fmask), fmask_y);
    EXPECT_F32(infer::scaled_dot_product_attention(TR(bmask_q), TR(bmask_k), TR(bmask_v), &bmask), bmask_y);

    Tensor x = TR(rms_x), w = TR(rms_w);
    EXPECT_F32(x.rms_norm({x.shape().back()}, &w, 1e-5), rms_y);
    EXPECT_F32(infer::rms_norm(x, {x.shape().back()}, &w, 1e-5), rms_y);
    Tensor x2 = TR(rms2_x);
    I s2 = x2.shape();
    EXPECT_F32(x2.rms_norm({s2[s2.size() - 2], s2.back()}, nullptr, 1e-6), rms2_y);
    EXPECT_F32(TR(rot_x).apply_rotary_emb(TR(rot_cos), TR(rot_sin)), rot_y);
    EXPECT_F32(infer::apply_rotary_emb(TR(rot_x), TR(rot_cos), TR(rot_sin)), rot_y);
}

/* ---------------------------------------------------------------- 7.B BOOL, comparisons, masks */

TEST(bool_tensors_round_trip) {
    Tensor m = infer::from_data(B{true, false, true}, {3});
    CHECK(m.dtype() == Dtype::BOOL && m.to_vector<bool>() == (B{true, false, true}));
    bool raw[] = {false, true};
    CHECK(Tensor::from_data(infer::Span<bool>(raw, 2), {2}).to_vector<bool>() == (B{false, true}));
    CHECK(m.to(Dtype::F32).to_vector<float>() == (V{1, 0, 1}));
    EXPECT_ERROR(m.to_vector<float>(), RT_ERR_DTYPE);
    EXPECT_ERROR(vec({1}).to_vector<bool>(), RT_ERR_DTYPE);
}

TEST(comparisons_match_pytorch) {
    Tensor a = TR(cmpf_a), b = TR(cmpf_b);
    EXPECT_BOOL(a == b, cmpf_eq);
    EXPECT_BOOL(a != b, cmpf_ne);
    EXPECT_BOOL(a < b, cmpf_lt);
    EXPECT_BOOL(a <= b, cmpf_le);
    EXPECT_BOOL(a > b, cmpf_gt);
    EXPECT_BOOL(a >= b, cmpf_ge);
    EXPECT_BOOL(a.eq(b), cmpf_eq);
    EXPECT_BOOL(a.ge(b), cmpf_ge);
    Tensor ia = TR(cmpi_a), ib = TR(cmpi_b);
    EXPECT_BOOL(ia.lt(ib), cmpi_lt);
    EXPECT_BOOL(ia.ne(ib), cmpi_ne);
    Tensor x = TR(cmpsf_x);
    EXPECT_BOOL(x == 0.1, cmpsf_eq);
    EXPECT_BOOL(x != 0.1, cmpsf_ne);
    EXPECT_BOOL(x < 0.1, cmpsf_lt);
    EXPECT_BOOL(x <= 0.1, cmpsf_le);
    EXPECT_BOOL(x > 0.1, cmpsf_gt);
    EXPECT_BOOL(x >= 0.1, cmpsf_ge);
    EXPECT_BOOL(TR(cmpsi_x).gt(2.5), cmpsi_frac_gt);
    EXPECT_BOOL(TR(cmpsb_x).le(0.5), cmpsb_half_le);
}

TEST(logical_where_and_masked_fill_match_pytorch) {
    Tensor la = TR(log_a), lb = TR(log_b);
    EXPECT_BOOL(la & lb, log_and);
    EXPECT_BOOL(la | lb, log_or);
    EXPECT_BOOL(~la, log_not);
    EXPECT_BOOL(la.logical_and(lb), log_and);
    EXPECT_BOOL(la.logical_or(lb), log_or);
    EXPECT_BOOL(la.logical_not(), log_not);
    EXPECT_F32(infer::where(TR(wh_cond), TR(wh_a), TR(wh_b)), wh_y);
    EXPECT_I64(infer::where(TR(whi_cond), TR(whi_a), TR(whi_b)), whi_y);
    EXPECT_F32(TR(mf_t).masked_fill(TR(mf_mask), -1e9), mf_y);
}

TEST(models_ops_errors_throw_with_the_status) {
    Tensor x = infer::from_data(V{1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor i = infer::from_data(I{1, 2}, {2});
    Tensor m = infer::from_data(B{true, false, true}, {3});
    infer::Error e = EXPECT_ERROR(x.topk(4, 1), RT_ERR_INVALID_ARGUMENT);
    CHECK(!std::string(e.what()).empty());
    EXPECT_ERROR(x.chunk(0), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(infer::arange(0, 1, 0), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(x.index_select(1, infer::from_data(I{3}, {1})), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(x.gather(1, x), RT_ERR_DTYPE);
    EXPECT_ERROR(x == i, RT_ERR_DTYPE);
    EXPECT_ERROR(x.logical_and(x), RT_ERR_DTYPE);
    EXPECT_ERROR(x.masked_fill(infer::from_data(B{true, false}, {2}), 0), RT_ERR_SHAPE);
    EXPECT_ERROR(infer::where(m, x, i), RT_ERR_DTYPE);
    Tensor three = vec({1, 2, 3});
    EXPECT_ERROR(infer::stack({&x, &i}), RT_ERR_DTYPE);
    EXPECT_ERROR(infer::stack({&x, &three}), RT_ERR_SHAPE);
    EXPECT_ERROR(infer::stack({&x, nullptr}), RT_ERR_NULL_ARGUMENT);
    EXPECT_ERROR(vec({-1, 2}).multinomial(1), RT_ERR_INVALID_ARGUMENT);
    Tensor q = infer::zeros({1, 2, 4}), mask = infer::ones({2, 2}, Dtype::BOOL);
    EXPECT_ERROR(infer::scaled_dot_product_attention(q, q, q, &mask, 0, true), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(x.rms_norm({4}), RT_ERR_SHAPE);
}

/* ---------------------------------------------------------------- 7.D modules */

TEST(simple_modules_match_their_functions) {
    Tensor x = TR(silu_x);
    EXPECT_F32(Module::silu()(x), silu_y);
    EXPECT_F32(Module::gelu_tanh()(TR(gelut_x)), gelut_y);
    CHECK(Module::identity()(x).to_vector<float>() == x.to_vector<float>());
    CHECK(Module::silu().type_name() == "SiLU" && Module::identity().type_name() == "Identity");
    Module norm = Module::rms_norm({x.shape().back()}, 1e-5);
    CHECK(norm.state_dict_names() == (std::vector<std::string>{"weight"}));
    Tensor w = TR(rms_w), rx = TR(rms_x);
    {
        infer::NoGradGuard no_grad;
        Module rn = Module::rms_norm({rx.shape().back()}, 1e-5);
        rn.get_tensor("weight").copy_(w);
        EXPECT_F32(rn(rx), rms_y);
    }
    EXPECT_ERROR(Module::rms_norm({4}, NAN), RT_ERR_INVALID_ARGUMENT);
    EXPECT_ERROR(Module::multihead_attention(8, 3), RT_ERR_INVALID_ARGUMENT);
}

/* tests/fixtures/NAME, found from this file's own path. */
static std::string fixture(const std::string &name) {
    std::string here = __FILE__;
    return here.substr(0, here.rfind('/') + 1) + "../tests/fixtures/" + name;
}

TEST(multihead_attention_matches_pytorch) {
    Module m = Module::multihead_attention(8, 2);
    m.load_safetensors(fixture("transformer_mha.safetensors"));
    m.eval();
    Tensor q = TR(mha_q), k = TR(mha_k), v = TR(mha_v), kpm = TR(mha_kpm), ab = TR(mha_attn_bool);
    EXPECT_F32(m(q), mha_y_self);
    EXPECT_F32(m.forward_n({&q, &k, &v}), mha_y_cross);
    EXPECT_F32(m.forward_n({&q, &k, &v, &kpm, &ab}), mha_y_bool);
}

/* One nn.TransformerEncoder layer of the fixture: its "layers.N." keys mapped onto the layer's
 * own names, the other layer's keys skipped. */
static Module encoder_layer(const std::string &n) {
    Module layer = Module::transformer_encoder_layer(8, 2, 16, 0.1, false, 1e-5, true, false);
    std::string prefix = "layers." + n + ".";
    layer.load_safetensors_mapped(fixture("transformer_post_relu.safetensors"), [&](const std::string &key) {
        return key.compare(0, prefix.size(), prefix) == 0 ? key.substr(prefix.size()) : std::string();
    });
    layer.eval();
    return layer;
}

TEST(encoder_layers_load_mapped_and_match_pytorch) {
    Module l0 = encoder_layer("0"), l1 = encoder_layer("1");
    CHECK(l0.type_name() == "TransformerEncoderLayer");
    Tensor x = TR(post_relu_x), mask = TR(enc_causal_bool), kpm = TR(enc_padding);
    EXPECT_F32(l1(l0(x)), post_relu_y_plain);
    Tensor h = l0.forward_n({&x, &mask, &kpm});
    EXPECT_F32(l1.forward_n({&h, &mask, &kpm}), post_relu_y);
}

struct MapFailed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

TEST(load_safetensors_mapped_failures_change_nothing) {
    Module layer = Module::transformer_encoder_layer(8, 2, 16, 0.1, false, 1e-5, true, false);
    std::vector<float> before = layer.get_tensor("linear1.weight").to_vector<float>();
    std::string path = fixture("transformer_post_relu.safetensors");
    /* the map's own exception comes back as itself */
    int calls = 0;
    try {
        layer.load_safetensors_mapped(path, [&](const std::string &) -> std::string {
            if (++calls == 3) throw MapFailed("no name for this key");
            return "";
        });
        CHECK(false);
    } catch (const MapFailed &e) {
        CHECK(std::string(e.what()) == "no name for this key");
    }
    infer::Error e = EXPECT_ERROR(layer.load_safetensors_mapped(path, [](const std::string &key) {
        return key + std::string(1000, 'x');
    }),
                                  RT_ERR_INVALID_ARGUMENT);
    CHECK(harness::mentions(e, "longer than any of the module's names"));
    /* both layers' keys mapped onto one layer: two file keys for each name */
    EXPECT_ERROR(layer.load_safetensors_mapped(path, [](const std::string &key) { return key.substr(9); }),
                 RT_ERR_INVALID_ARGUMENT);
    CHECK(layer.get_tensor("linear1.weight").to_vector<float>() == before);
}

/* ---------------------------------------------------------------- with_inference_mode */

TEST(with_inference_mode_runs_the_callable_in_inference_mode) {
    CHECK(!infer::is_inference_mode_enabled());
    Tensor t = infer::with_inference_mode([] {
        CHECK(infer::is_inference_mode_enabled() && !infer::is_grad_enabled());
        return infer::ones({2});
    });
    CHECK(t.is_inference() && !infer::is_inference_mode_enabled() && infer::is_grad_enabled());
    bool ran = false;
    infer::with_inference_mode([&] { ran = true; });
    CHECK(ran);
    /* a failing call inside: its infer::Error, mode restored */
    infer::Error e = EXPECT_ERROR(infer::with_inference_mode([] { return infer::zeros({2}).view({3}); }),
                                  RT_ERR_SHAPE);
    CHECK(!infer::is_inference_mode_enabled());
    /* any other exception comes back as itself */
    try {
        infer::with_inference_mode([] { throw MapFailed("mine"); });
        CHECK(false);
    } catch (const MapFailed &m) {
        CHECK(std::string(m.what()) == "mine");
    }
    CHECK(!infer::is_inference_mode_enabled() && infer::is_grad_enabled());
    /* a frame left open is popped, and reported */
    EXPECT_ERROR(infer::with_inference_mode([] { infer::check(rt_grad_mode_enter(false)); }), RT_ERR_INVALID_STATE);
    CHECK(!infer::is_inference_mode_enabled() && infer::is_grad_enabled());
}

/* ---------------------------------------------------------------- 8: AdamW and clipping */

TEST(adamw_tensors_matches_pytorch) {
    Tensor p = TR(ADAMW_P0);
    p.set_requires_grad();
    infer::Optimizer opt = infer::adamw({&p}, 0.1, 0.9, 0.999, 1e-8, 0.05);
    Tensor target = TR(ADAMW_TARGET), w = TR(ADAMW_W);
    for (int step = 0; step < 4; step++) {
        opt.zero_grad();
        ((p - target).pow(2) * w).sum().backward();
        opt.step();
        CHECK_ALL_NEAR(p.to_vector<float>(), V(ADAMW_TRAJ + 6 * step, ADAMW_TRAJ + 6 * step + 6), 1e-6);
    }
    EXPECT_ERROR(infer::adamw({&p}, -1), RT_ERR_INVALID_ARGUMENT);
}

TEST(adamw_module_matches_pytorch) {
    Module lin = Module::linear(3, 2);
    Tensor w = lin.get_tensor("weight"), b = lin.get_tensor("bias");
    {
        infer::NoGradGuard no_grad;
        w.copy_(TR(LIN_W0));
        b.copy_(TR(LIN_B0));
    }
    infer::Optimizer opt = infer::adamw(lin, 0.05, 0.8, 0.99, 1e-6, 0.01);
    Tensor x = TR(LIN_X), y = TR(LIN_Y);
    for (int step = 0; step < 4; step++) {
        opt.zero_grad();
        (lin(x) - y).pow(2).sum().backward();
        opt.step();
        CHECK_ALL_NEAR(w.to_vector<float>(), V(LIN_W_TRAJ + 6 * step, LIN_W_TRAJ + 6 * step + 6), 1e-6);
        CHECK_ALL_NEAR(b.to_vector<float>(), V(LIN_B_TRAJ + 2 * step, LIN_B_TRAJ + 2 * step + 2), 1e-6);
    }
}

TEST(clip_grad_norm_matches_pytorch) {
    for (double norm_type : {2.0, double(INFINITY)}) {
        Tensor a = infer::zeros({2, 3}), none = infer::zeros({4}), c = infer::zeros({5});
        for (Tensor *t : {&a, &none, &c}) t->set_requires_grad();
        a.set_grad(TR(CLIP_G0));
        c.set_grad(TR(CLIP_G2));
        bool l2 = norm_type == 2.0;
        double total = infer::clip_grad_norm({&a, &none, &c}, l2 ? 1.0 : 0.5, norm_type);
        const float *want_total = l2 ? L2_CLIPPED_TOTAL : INF_CLIPPED_TOTAL;
        CHECK_NEAR(total, want_total[0], 1e-6 * want_total[0]);
        const float *g0 = l2 ? L2_CLIPPED_G0 : INF_CLIPPED_G0, *g2 = l2 ? L2_CLIPPED_G2 : INF_CLIPPED_G2;
        CHECK_ALL_NEAR(a.grad()->to_vector<float>(), V(g0, g0 + 6), 1e-6);
        CHECK_ALL_NEAR(c.grad()->to_vector<float>(), V(g2, g2 + 5), 1e-6);
        CHECK(!none.grad());
    }
    Tensor p = infer::zeros({2});
    p.set_requires_grad();
    EXPECT_ERROR(infer::clip_grad_norm({&p}, 1.0, -1.0), RT_ERR_INVALID_ARGUMENT);
}

TEST(clip_grad_norm_of_a_module) {
    Module lin = Module::linear(3, 2);
    lin.get_tensor("weight").set_grad(TR(LIN_W0));
    lin.get_tensor("bias").set_grad(TR(LIN_B0));
    /* the same gradients as free tensors, clipped through the C ABI directly */
    Tensor gw = TR(LIN_W0), gb = TR(LIN_B0);
    gw.set_requires_grad(), gb.set_requires_grad();
    gw.set_grad(TR(LIN_W0));
    gb.set_grad(TR(LIN_B0));
    rt_tensor *hs[] = {gw.get(), gb.get()};
    double want = 0;
    infer::check(rt_clip_grad_norm(hs, 2, 0.5, 2.0, &want));
    CHECK_NEAR(infer::clip_grad_norm(lin, 0.5), want, 0);
    CHECK_ALL_NEAR(lin.get_tensor("weight").grad()->to_vector<float>(), gw.grad()->to_vector<float>(), 0);
    CHECK_ALL_NEAR(lin.get_tensor("bias").grad()->to_vector<float>(), gb.grad()->to_vector<float>(), 0);
}
