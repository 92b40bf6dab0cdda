/*
 * libinfer C++17 API: header-only RAII wrappers over the C ABI in infer.h (see API.md).
 *
 * - Tensor, Module, Optimizer and SafeTensors each own exactly one handle, are move-only and free
 *   it in their destructor; get() borrows the handle, release() gives it up (the caller then frees it).
 * - Every failing call throws infer::Error, carrying the rt_status and the library's message,
 *   read on the calling thread right after the failing call (the message is per thread).
 * - InferenceModeGuard and NoGradGuard are scoped frames: the constructor enters, the destructor
 *   exits, also when an exception unwinds through the scope. Modes are per OS thread, so a guard
 *   must be destroyed on the thread that made it (automatic for a local variable).
 *
 * Adding a C function is one line: a method that forwards to detail::out_tensor / detail::call,
 * e.g. `Tensor softmax(int64_t dim) const { return detail::out_tensor(rt_tensor_softmax, get(), dim); }`.
 */
#ifndef INFER_HPP
#define INFER_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <exception>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "infer.h"

static_assert(RT_ABI_VERSION == 1, "infer.hpp is written against ABI version 1 of infer.h");

namespace infer {

/* ---------------------------------------------------------------- errors */

/* A failed call: the library's status code and its message. what() is the message. */
class Error : public std::runtime_error {
  public:
    Error(rt_status status, const std::string &message) : std::runtime_error(message), status_(status) {}
    rt_status status() const noexcept { return status_; }
    /* The static name of the status, such as "shape mismatch". */
    const char *status_str() const noexcept { return rt_status_str(status_); }

  private:
    rt_status status_;
};

namespace detail {
/* This thread's last error message, whatever its length. */
inline std::string last_error_message() {
    std::string msg(256, '\0');
    size_t len = rt_last_error_message(&msg[0], msg.size() + 1);
    if (len > msg.size()) {
        msg.assign(len, '\0');
        rt_last_error_message(&msg[0], len + 1);
    }
    msg.resize(len);
    return msg;
}
}  // namespace detail

/* Throws infer::Error unless status is RT_OK. Call it immediately after the C call that returned
 * status, on the same thread, so the message read is that call's. */
inline void check(rt_status status) {
    if (status != RT_OK) {
        std::string msg = detail::last_error_message();
        if (msg.empty()) msg = rt_status_str(status);
        throw Error(status, msg);
    }
}

/* ---------------------------------------------------------------- small value types */

enum class Dtype : rt_dtype { F32 = RT_DTYPE_F32, I64 = RT_DTYPE_I64, BOOL = RT_DTYPE_BOOL };

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr Dtype value = Dtype::F32; };
template <> struct dtype_of<int64_t> { static constexpr Dtype value = Dtype::I64; };
/* BOOL elements are single bytes, 0 or 1, as a C++ bool is on every supported platform. */
static_assert(sizeof(bool) == 1, "infer.hpp reads BOOL tensors (one byte per element) as bool");
template <> struct dtype_of<bool> { static constexpr Dtype value = Dtype::BOOL; };

/* A borrowed, read-only run of T (pointer + size), as std::span in C++20: built from a
 * std::vector, a std::array, a braced list ({2, 3}) or a pointer and a size. Shapes and dims are
 * passed as Span<int64_t>. It never outlives the full expression it was made in. */
template <class T> class Span {
  public:
    Span() noexcept = default;
    Span(const T *data, size_t size) noexcept : data_(data), size_(size) {}
/* The braced list lives until the end of the full expression, as long as a Span may (GCC warns
 * about any class keeping an initializer_list's pointer; LLVM's ArrayRef silences it the same way). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
    Span(std::initializer_list<T> list) noexcept : data_(list.begin()), size_(list.size()) {}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 9
#pragma GCC diagnostic pop
#endif
    Span(const std::vector<T> &v) noexcept : data_(v.data()), size_(v.size()) {}
    template <size_t N> Span(const std::array<T, N> &a) noexcept : data_(a.data()), size_(N) {}
    const T *data() const noexcept { return size_ ? data_ : nullptr; }
    size_t size() const noexcept { return size_; }
    const T *begin() const noexcept { return data_; }
    const T *end() const noexcept { return data_ + size_; }

  private:
    const T *data_ = nullptr;
    size_t size_ = 0;
};
using Shape = Span<int64_t>;

/* ---------------------------------------------------------------- handle ownership */

namespace detail {
/* Owns one handle of type H, released with Free. Move-only. */
template <class H, rt_status (*Free)(H *)> class Owner {
  public:
    Owner() noexcept = default;
    explicit Owner(H *h) noexcept : h_(h) {}
    Owner(Owner &&o) noexcept : h_(o.release()) {}
    Owner &operator=(Owner &&o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    Owner(const Owner &) = delete;
    Owner &operator=(const Owner &) = delete;
    ~Owner() { reset(); }

    /* The handle, still owned by this object (NULL when empty). */
    H *get() const noexcept { return h_; }
    /* Gives up ownership: the caller must free the returned handle. */
    H *release() noexcept { return std::exchange(h_, nullptr); }
    /* Frees the owned handle (if any) and takes h. */
    void reset(H *h = nullptr) noexcept {
        /* A free of a valid handle cannot fail; a destructor must not throw either way. */
        if (H *old = std::exchange(h_, h)) (void)Free(old);
    }
    explicit operator bool() const noexcept { return h_ != nullptr; }

  private:
    H *h_ = nullptr;
};

/* Calls f(args..., &out), checks the status and returns out wrapped in W (Tensor, Module...). */
template <class W, class H, class F, class... A> W out_handle(F f, A... args) {
    H *out = nullptr;
    check(f(args..., &out));
    return W(out);
}

/* Calls f(args..., &out) for a plain out-parameter and returns it. */
template <class T, class F, class... A> T out_value(F f, A... args) {
    T out{};
    check(f(args..., &out));
    return out;
}

/* Name number `index` through a C function of the rt_module_tensor_name / rt_safetensors_name
 * kind: asks for the length first, then reads the whole name. */
template <class H> std::string indexed_name(rt_status (*f)(const H *, size_t, char *, size_t, size_t *), const H *h,
                                            size_t index) {
    size_t len = 0;
    rt_status s = f(h, index, nullptr, 0, &len);
    if (s != RT_ERR_BUFFER_TOO_SMALL) check(s);
    std::string name(len, '\0');
    check(f(h, index, &name[0], len + 1, &len));
    return name;
}
}  // namespace detail

class Tensor;
namespace detail {
template <class F, class... A> Tensor out_tensor(F f, A... args);
}

/* ---------------------------------------------------------------- Tensor */

class Tensor : public detail::Owner<rt_tensor, rt_tensor_free> {
  public:
    Tensor() noexcept = default;
    /* Takes ownership of h. */
    explicit Tensor(rt_tensor *h) noexcept : Owner(h) {}

    /* factories */
    static Tensor zeros(Shape shape, Dtype dtype = Dtype::F32) {
        return detail::out_tensor(rt_tensor_zeros, shape.data(), shape.size(), rt_dtype(dtype));
    }
    static Tensor ones(Shape shape, Dtype dtype = Dtype::F32) {
        return detail::out_tensor(rt_tensor_ones, shape.data(), shape.size(), rt_dtype(dtype));
    }
    static Tensor full(Shape shape, double value, Dtype dtype = Dtype::F32) {
        return detail::out_tensor(rt_tensor_full, shape.data(), shape.size(), value, rt_dtype(dtype));
    }
    static Tensor randn(Shape shape) { return detail::out_tensor(rt_tensor_randn, shape.data(), shape.size()); }
    static Tensor rand(Shape shape) { return detail::out_tensor(rt_tensor_rand, shape.data(), shape.size()); }
    /* Copies data (row-major, float or int64_t) into a new tensor of the given shape. */
    template <class T> static Tensor from_data(Span<T> data, Shape shape) {
        return detail::out_tensor(rt_tensor_from_data, static_cast<const void *>(data.data()), data.size() * sizeof(T),
                                  rt_dtype(dtype_of<T>::value), shape.data(), shape.size());
    }
    static Tensor from_data(const std::vector<float> &data, Shape shape) { return from_data(Span<float>(data), shape); }
    static Tensor from_data(const std::vector<int64_t> &data, Shape shape) {
        return from_data(Span<int64_t>(data), shape);
    }
    static Tensor from_data(const std::vector<bool> &data, Shape shape) {
        std::vector<char> bytes(data.begin(), data.end()); /* bits to one byte each, 0 or 1 */
        return detail::out_tensor(rt_tensor_from_data, static_cast<const void *>(bytes.data()), bytes.size(),
                                  rt_dtype(Dtype::BOOL), shape.data(), shape.size());
    }
    /* Wraps caller memory without copying; deleter(data, ctx) runs once when the last tensor using
     * it is gone (NULL deleter: the caller keeps data alive longer than every such tensor). */
    template <class T>
    static Tensor from_blob(T *data, size_t n, Shape shape, void (*deleter)(void *, void *) = nullptr,
                            void *ctx = nullptr) {
        return detail::out_tensor(rt_tensor_from_blob, static_cast<void *>(data), n * sizeof(T),
                                  rt_dtype(dtype_of<T>::value), shape.data(), shape.size(), deleter, ctx);
    }
    /* A second owning handle to the same tensor. */
    Tensor share() const { return detail::out_tensor(rt_tensor_share, get()); }

    /* inspection */
    size_t ndim() const { return detail::out_value<size_t>(rt_tensor_ndim, get()); }
    std::vector<int64_t> shape() const {
        std::vector<int64_t> dims(RT_MAX_DIMS);
        size_t n = 0;
        check(rt_tensor_shape(get(), dims.data(), dims.size(), &n));
        dims.resize(n);
        return dims;
    }
    size_t numel() const { return detail::out_value<size_t>(rt_tensor_numel, get()); }
    Dtype dtype() const { return Dtype(detail::out_value<rt_dtype>(rt_tensor_dtype, get())); }
    bool is_contiguous() const { return detail::out_value<bool>(rt_tensor_is_contiguous, get()); }
    bool requires_grad() const { return detail::out_value<bool>(rt_tensor_requires_grad, get()); }
    Tensor &set_requires_grad(bool requires_grad = true) {
        check(rt_tensor_set_requires_grad(get(), requires_grad));
        return *this;
    }
    bool is_inference() const { return detail::out_value<bool>(rt_tensor_is_inference, get()); }
    bool is_leaf() const { return detail::out_value<bool>(rt_tensor_is_leaf, get()); }
    bool has_grad_fn() const { return detail::out_value<bool>(rt_tensor_has_grad_fn, get()); }
    bool is_view() const { return detail::out_value<bool>(rt_tensor_is_view, get()); }
    uint64_t version() const { return detail::out_value<uint64_t>(rt_tensor_version, get()); }
    double item() const { return detail::out_value<double>(rt_tensor_item, get()); }
    /* Copies the elements row-major into dst, which holds n values of the tensor's dtype. */
    template <class T> void copy_to(T *dst, size_t n) const { check(rt_tensor_copy_to(get(), dst, n * sizeof(T))); }
    /* The elements, row-major; T must match the dtype (float for F32, int64_t for I64, bool for BOOL). */
    template <class T> std::vector<T> to_vector() const {
        if (dtype() != dtype_of<T>::value)
            throw Error(RT_ERR_DTYPE, "infer::Tensor::to_vector: the element type does not match the tensor's "
                                      "dtype; convert with to(Dtype) first");
        if constexpr (std::is_same_v<T, bool>) {
            /* std::vector<bool> packs bits, so read the bytes first */
            std::vector<char> bytes(numel());
            copy_to(bytes.data(), bytes.size());
            return std::vector<bool>(bytes.begin(), bytes.end());
        } else {
            std::vector<T> v(numel());
            copy_to(v.data(), v.size());
            return v;
        }
    }
    /* Borrowed pointer to the first element of a contiguous tensor, valid while it lives. */
    const void *data_ptr() const { return detail::out_value<const void *>(rt_tensor_data_ptr, get()); }

    /* functional ops (new tensors) */
    Tensor add(const Tensor &o) const { return detail::out_tensor(rt_tensor_add, get(), o.get()); }
    Tensor sub(const Tensor &o) const { return detail::out_tensor(rt_tensor_sub, get(), o.get()); }
    Tensor mul(const Tensor &o) const { return detail::out_tensor(rt_tensor_mul, get(), o.get()); }
    Tensor div(const Tensor &o) const { return detail::out_tensor(rt_tensor_div, get(), o.get()); }
    Tensor matmul(const Tensor &o) const { return detail::out_tensor(rt_tensor_matmul, get(), o.get()); }
    Tensor add(double s) const { return detail::out_tensor(rt_tensor_add_scalar, get(), s); }
    Tensor mul(double s) const { return detail::out_tensor(rt_tensor_mul_scalar, get(), s); }
    Tensor pow(double s) const { return detail::out_tensor(rt_tensor_pow_scalar, get(), s); }
    Tensor relu() const { return detail::out_tensor(rt_tensor_relu, get()); }
    Tensor neg() const { return detail::out_tensor(rt_tensor_neg, get()); }
    Tensor exp() const { return detail::out_tensor(rt_tensor_exp, get()); }
    Tensor log() const { return detail::out_tensor(rt_tensor_log, get()); }
    Tensor sqrt() const { return detail::out_tensor(rt_tensor_sqrt, get()); }
    Tensor sigmoid() const { return detail::out_tensor(rt_tensor_sigmoid, get()); }
    Tensor tanh() const { return detail::out_tensor(rt_tensor_tanh, get()); }
    Tensor gelu() const { return detail::out_tensor(rt_tensor_gelu, get()); }
    /* Softmax / log-softmax along dim (negative counts from the end). */
    Tensor softmax(int64_t dim) const { return detail::out_tensor(rt_tensor_softmax, get(), dim); }
    Tensor log_softmax(int64_t dim) const { return detail::out_tensor(rt_tensor_log_softmax, get(), dim); }
    /* Training: zeroes each element with probability p and scales the rest by 1 / (1 - p). Not
     * training (or p == 0): a new handle to this tensor. */
    Tensor dropout(double p, bool training = true) const {
        return detail::out_tensor(rt_tensor_dropout, get(), p, training);
    }
    /* Square-window max pooling of (N, C, H, W), no padding; stride 0 means kernel_size. */
    Tensor max_pool2d(int64_t kernel_size, int64_t stride = 0) const {
        return detail::out_tensor(rt_tensor_max_pool2d, get(), kernel_size, stride);
    }
    /* Sum / mean over dims ({} = all dims, a 0-d result). */
    Tensor sum(Shape dims = {}, bool keepdim = false) const {
        return detail::out_tensor(rt_tensor_sum, get(), dims.data(), dims.size(), keepdim);
    }
    Tensor mean(Shape dims = {}, bool keepdim = false) const {
        return detail::out_tensor(rt_tensor_mean, get(), dims.data(), dims.size(), keepdim);
    }
    Tensor argmax(int64_t dim, bool keepdim = false) const {
        return detail::out_tensor(rt_tensor_argmax, get(), dim, keepdim);
    }
    Tensor clone() const { return detail::out_tensor(rt_tensor_clone, get()); }
    Tensor detach() const { return detail::out_tensor(rt_tensor_detach, get()); }
    Tensor contiguous() const { return detail::out_tensor(rt_tensor_contiguous, get()); }
    Tensor to(Dtype dtype) const { return detail::out_tensor(rt_tensor_to, get(), rt_dtype(dtype)); }

    /* views */
    Tensor view(Shape shape) const { return detail::out_tensor(rt_tensor_view, get(), shape.data(), shape.size()); }
    Tensor reshape(Shape shape) const {
        return detail::out_tensor(rt_tensor_reshape, get(), shape.data(), shape.size());
    }
    Tensor transpose(int64_t d0, int64_t d1) const { return detail::out_tensor(rt_tensor_transpose, get(), d0, d1); }
    Tensor permute(Shape dims) const { return detail::out_tensor(rt_tensor_permute, get(), dims.data(), dims.size()); }
    Tensor narrow(int64_t dim, int64_t start, int64_t length) const {
        return detail::out_tensor(rt_tensor_narrow, get(), dim, start, length);
    }
    Tensor select(int64_t dim, int64_t index) const { return detail::out_tensor(rt_tensor_select, get(), dim, index); }
    Tensor unsqueeze(int64_t dim) const { return detail::out_tensor(rt_tensor_unsqueeze, get(), dim); }
    Tensor squeeze(int64_t dim) const { return detail::out_tensor(rt_tensor_squeeze, get(), dim); }
    Tensor expand(Shape shape) const {
        return detail::out_tensor(rt_tensor_expand, get(), shape.data(), shape.size());
    }
    Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const {
        return detail::out_tensor(rt_tensor_flatten, get(), start_dim, end_dim);
    }

    /* models (API.md 7.B, 7.C) */
    Tensor abs() const { return detail::out_tensor(rt_tensor_abs, get()); }
    Tensor cos() const { return detail::out_tensor(rt_tensor_cos, get()); }
    Tensor sin() const { return detail::out_tensor(rt_tensor_sin, get()); }
    Tensor rsqrt() const { return detail::out_tensor(rt_tensor_rsqrt, get()); }
    Tensor silu() const { return detail::out_tensor(rt_tensor_silu, get()); }
    /* F.gelu(approximate="tanh"). */
    Tensor gelu_tanh() const { return detail::out_tensor(rt_tensor_gelu_tanh, get()); }
    /* Max over dims ({} = all dims). */
    Tensor amax(Shape dims = {}, bool keepdim = false) const {
        return detail::out_tensor(rt_tensor_amax, get(), dims.data(), dims.size(), keepdim);
    }
    /* torch.max(t, dim) / torch.min(t, dim): (values, I64 indices). */
    std::pair<Tensor, Tensor> max_dim(int64_t dim, bool keepdim = false) const {
        return values_indices(rt_tensor_max_dim, dim, keepdim);
    }
    std::pair<Tensor, Tensor> min_dim(int64_t dim, bool keepdim = false) const {
        return values_indices(rt_tensor_min_dim, dim, keepdim);
    }
    /* torch.topk, sorted: (values, I64 indices). */
    std::pair<Tensor, Tensor> topk(int64_t k, int64_t dim = -1, bool largest = true) const {
        rt_tensor *values = nullptr, *indices = nullptr;
        check(rt_tensor_topk(get(), k, dim, largest, &values, &indices));
        return {Tensor(values), Tensor(indices)};
    }
    /* index: I64. */
    Tensor index_select(int64_t dim, const Tensor &index) const {
        return detail::out_tensor(rt_tensor_index_select, get(), dim, index.get());
    }
    Tensor gather(int64_t dim, const Tensor &index) const {
        return detail::out_tensor(rt_tensor_gather, get(), dim, index.get());
    }
    /* value where the BOOL mask (broadcast to this shape) is true. */
    Tensor masked_fill(const Tensor &mask, double value) const {
        return detail::out_tensor(rt_tensor_masked_fill, get(), mask.get(), value);
    }
    Tensor tril(int64_t diagonal = 0) const { return detail::out_tensor(rt_tensor_tril, get(), diagonal); }
    Tensor triu(int64_t diagonal = 0) const { return detail::out_tensor(rt_tensor_triu, get(), diagonal); }
    /* torch.chunk: up to `chunks` views along dim. */
    std::vector<Tensor> chunk(size_t chunks, int64_t dim = 0) const {
        size_t n = 0;
        rt_status s = rt_tensor_chunk(get(), chunks, dim, nullptr, 0, &n);
        if (s != RT_ERR_BUFFER_TOO_SMALL) check(s); /* n == 0 succeeds at once */
        std::vector<rt_tensor *> hs(n, nullptr);
        check(rt_tensor_chunk(get(), chunks, dim, hs.data(), hs.size(), &n));
        std::vector<Tensor> parts;
        parts.reserve(n);
        for (size_t i = 0; i < n; i++) parts.emplace_back(hs[i]);
        return parts;
    }
    /* I64 samples of each row of probs (torch.multinomial), from rt_manual_seed's generator. */
    Tensor multinomial(int64_t num_samples, bool replacement = false) const {
        return detail::out_tensor(rt_tensor_multinomial, get(), num_samples, replacement);
    }
    /* F.rms_norm over the trailing dims `shape`, times the optional weight (of that shape). eps as
     * PyTorch's default (None: float32's epsilon). */
    Tensor rms_norm(Shape shape, const Tensor *weight = nullptr,
                    double eps = double(std::numeric_limits<float>::epsilon())) const {
        return detail::out_tensor(rt_tensor_rms_norm, get(), shape.data(), shape.size(),
                                  weight ? weight->get() : nullptr, eps);
    }
    /* x * cos + rotate_half(x) * sin (Hugging Face's convention); cos and sin broadcast to x. */
    Tensor apply_rotary_emb(const Tensor &cos, const Tensor &sin) const {
        return detail::out_tensor(rt_tensor_apply_rotary_emb, get(), cos.get(), sin.get());
    }
    /* Comparisons (broadcasting, F32 or I64 operands of one dtype, or two BOOL): BOOL results. */
    Tensor eq(const Tensor &o) const { return compare(o, RT_CMP_EQ); }
    Tensor ne(const Tensor &o) const { return compare(o, RT_CMP_NE); }
    Tensor lt(const Tensor &o) const { return compare(o, RT_CMP_LT); }
    Tensor le(const Tensor &o) const { return compare(o, RT_CMP_LE); }
    Tensor gt(const Tensor &o) const { return compare(o, RT_CMP_GT); }
    Tensor ge(const Tensor &o) const { return compare(o, RT_CMP_GE); }
    Tensor eq(double s) const { return compare(s, RT_CMP_EQ); }
    Tensor ne(double s) const { return compare(s, RT_CMP_NE); }
    Tensor lt(double s) const { return compare(s, RT_CMP_LT); }
    Tensor le(double s) const { return compare(s, RT_CMP_LE); }
    Tensor gt(double s) const { return compare(s, RT_CMP_GT); }
    Tensor ge(double s) const { return compare(s, RT_CMP_GE); }
    /* BOOL operands only. */
    Tensor logical_and(const Tensor &o) const { return detail::out_tensor(rt_tensor_logical_and, get(), o.get()); }
    Tensor logical_or(const Tensor &o) const { return detail::out_tensor(rt_tensor_logical_or, get(), o.get()); }
    Tensor logical_not() const { return detail::out_tensor(rt_tensor_logical_not, get()); }

    /* in place (return *this for chaining) */
    Tensor &add_(const Tensor &o) { return inplace(rt_tensor_add_inplace(get(), o.get())); }
    Tensor &sub_(const Tensor &o) { return inplace(rt_tensor_sub_inplace(get(), o.get())); }
    Tensor &mul_(const Tensor &o) { return inplace(rt_tensor_mul_inplace(get(), o.get())); }
    Tensor &add_(double s) { return inplace(rt_tensor_add_scalar_inplace(get(), s)); }
    Tensor &mul_(double s) { return inplace(rt_tensor_mul_scalar_inplace(get(), s)); }
    Tensor &copy_(const Tensor &src) { return inplace(rt_tensor_copy_inplace(get(), src.get())); }
    Tensor &fill_(double value) { return inplace(rt_tensor_fill_inplace(get(), value)); }
    Tensor &zero_() { return inplace(rt_tensor_zero_inplace(get())); }

    /* autograd */
    void backward(bool retain_graph = false) { check(rt_tensor_backward(get(), nullptr, retain_graph)); }
    void backward(const Tensor &grad, bool retain_graph = false) {
        check(rt_tensor_backward(get(), grad.get(), retain_graph));
    }
    /* The accumulated gradient, or nullopt when there is none. */
    std::optional<Tensor> grad() const {
        rt_tensor *g = nullptr;
        check(rt_tensor_grad(get(), &g));
        if (!g) return std::nullopt;
        return Tensor(g);
    }
    void set_grad(const Tensor &grad) { check(rt_tensor_set_grad(get(), grad.get())); }
    void clear_grad() { check(rt_tensor_set_grad(get(), nullptr)); }
    void retain_grad() { check(rt_tensor_retain_grad(get())); }

  private:
    Tensor &inplace(rt_status s) {
        check(s);
        return *this;
    }
    Tensor compare(const Tensor &o, rt_compare op) const {
        return detail::out_tensor(rt_tensor_compare, get(), o.get(), op);
    }
    Tensor compare(double s, rt_compare op) const {
        return detail::out_tensor(rt_tensor_compare_scalar, get(), s, op);
    }
    template <class F> std::pair<Tensor, Tensor> values_indices(F f, int64_t dim, bool keepdim) const {
        rt_tensor *values = nullptr, *indices = nullptr;
        check(f(get(), dim, keepdim, &values, &indices));
        return {Tensor(values), Tensor(indices)};
    }
};

namespace detail {
template <class F, class... A> Tensor out_tensor(F f, A... args) {
    return out_handle<Tensor, rt_tensor>(f, args...);
}
}  // namespace detail

/* free-function forms */
inline Tensor zeros(Shape shape, Dtype dtype = Dtype::F32) { return Tensor::zeros(shape, dtype); }
inline Tensor ones(Shape shape, Dtype dtype = Dtype::F32) { return Tensor::ones(shape, dtype); }
inline Tensor full(Shape shape, double value, Dtype dtype = Dtype::F32) { return Tensor::full(shape, value, dtype); }
inline Tensor randn(Shape shape) { return Tensor::randn(shape); }
inline Tensor rand(Shape shape) { return Tensor::rand(shape); }
template <class T> Tensor from_data(Span<T> data, Shape shape) { return Tensor::from_data(data, shape); }
inline Tensor from_data(const std::vector<float> &data, Shape shape) { return Tensor::from_data(data, shape); }
inline Tensor from_data(const std::vector<int64_t> &data, Shape shape) { return Tensor::from_data(data, shape); }
inline Tensor from_data(const std::vector<bool> &data, Shape shape) { return Tensor::from_data(data, shape); }
/* x w^T + b (b may be omitted). */
inline Tensor linear(const Tensor &x, const Tensor &w, const Tensor *b = nullptr) {
    return detail::out_tensor(rt_tensor_linear, x.get(), w.get(), b ? b->get() : nullptr);
}
inline Tensor linear(const Tensor &x, const Tensor &w, const Tensor &b) { return linear(x, w, &b); }
inline Tensor matmul(const Tensor &a, const Tensor &b) { return a.matmul(b); }
/* Concatenates along dim. */
inline Tensor cat(const std::vector<const Tensor *> &ts, int64_t dim = 0) {
    std::vector<const rt_tensor *> hs;
    hs.reserve(ts.size());
    for (const Tensor *t : ts) hs.push_back(t ? t->get() : nullptr);
    return detail::out_tensor(rt_tensor_cat, hs.data(), hs.size(), dim);
}

/* nn functions (torch.nn.functional). Optional tensors are pointers: nullptr for none. */
namespace detail {
inline const rt_tensor *opt(const Tensor *t) noexcept { return t ? t->get() : nullptr; }
inline rt_tensor *opt(Tensor *t) noexcept { return t ? t->get() : nullptr; }
}  // namespace detail
inline Tensor softmax(const Tensor &t, int64_t dim) { return t.softmax(dim); }
inline Tensor log_softmax(const Tensor &t, int64_t dim) { return t.log_softmax(dim); }
/* Mean cross-entropy of logits (N, C) against I64 class indices (N); a 0-d tensor. */
inline Tensor cross_entropy(const Tensor &logits, const Tensor &targets) {
    return detail::out_tensor(rt_tensor_cross_entropy, logits.get(), targets.get());
}
/* Mean squared error of two tensors of the same shape; a 0-d tensor. */
inline Tensor mse_loss(const Tensor &a, const Tensor &b) { return detail::out_tensor(rt_tensor_mse_loss, a.get(), b.get()); }
/* x (N, C, H, W), w (O, C, kh, kw), b (O) or nullptr; zero padding on every side. */
inline Tensor conv2d(const Tensor &x, const Tensor &w, const Tensor *b = nullptr, int64_t stride = 1,
                     int64_t padding = 0) {
    return detail::out_tensor(rt_tensor_conv2d, x.get(), w.get(), detail::opt(b), stride, padding);
}
inline Tensor conv2d(const Tensor &x, const Tensor &w, const Tensor &b, int64_t stride = 1, int64_t padding = 0) {
    return conv2d(x, w, &b, stride, padding);
}
inline Tensor max_pool2d(const Tensor &x, int64_t kernel_size, int64_t stride = 0) {
    return x.max_pool2d(kernel_size, stride);
}
/* Normalises over the trailing dims `shape`, then the optional affine w, b (each of that shape). */
inline Tensor layer_norm(const Tensor &x, Shape shape, const Tensor *w = nullptr, const Tensor *b = nullptr,
                         double eps = 1e-5) {
    return detail::out_tensor(rt_tensor_layer_norm, x.get(), shape.data(), shape.size(), detail::opt(w),
                              detail::opt(b), eps);
}
/* F.batch_norm over channel dim 1 of x (N, C, ...). Training: batch statistics, and the running
 * ones (each (C), or nullptr) are updated in place. Not training: the running statistics, which
 * must then be given. w, b: (C) or nullptr. */
inline Tensor batch_norm(const Tensor &x, Tensor *running_mean, Tensor *running_var, const Tensor *w = nullptr,
                         const Tensor *b = nullptr, bool training = false, double momentum = 0.1, double eps = 1e-5) {
    return detail::out_tensor(rt_tensor_batch_norm, x.get(), detail::opt(running_mean), detail::opt(running_var),
                              detail::opt(w), detail::opt(b), training, momentum, eps);
}
inline Tensor dropout(const Tensor &x, double p, bool training = true) { return x.dropout(p, training); }
/* Rows of weight (V, D) picked by I64 indices of any shape: indices.shape + [D]. */
inline Tensor embedding(const Tensor &indices, const Tensor &weight) {
    return detail::out_tensor(rt_tensor_embedding, indices.get(), weight.get());
}

/* models (API.md 7.B, 7.C) */
/* Values start, start + step, ... below end (above it for a negative step). */
inline Tensor arange(double start, double end, double step = 1, Dtype dtype = Dtype::F32) {
    return detail::out_tensor(rt_tensor_arange, start, end, step, rt_dtype(dtype));
}
/* a where the BOOL cond is true, else b (all three broadcast). */
inline Tensor where(const Tensor &cond, const Tensor &a, const Tensor &b) {
    return detail::out_tensor(rt_tensor_where, cond.get(), a.get(), b.get());
}
/* Joins tensors of one shape along a new dim. */
inline Tensor stack(const std::vector<const Tensor *> &ts, int64_t dim = 0) {
    std::vector<const rt_tensor *> hs;
    hs.reserve(ts.size());
    for (const Tensor *t : ts) hs.push_back(detail::opt(t));
    return detail::out_tensor(rt_tensor_stack, hs.data(), hs.size(), dim);
}
/* Also of a std::vector<Tensor> such as chunk's (a template, so that a braced list of pointers
 * cannot pick std::vector<Tensor>'s iterator-pair constructor). */
template <class Ts, std::enable_if_t<std::is_same_v<Ts, std::vector<Tensor>>, int> = 0>
Tensor stack(const Ts &ts, int64_t dim = 0) {
    std::vector<const Tensor *> ps;
    ps.reserve(ts.size());
    for (const Tensor &t : ts) ps.push_back(&t);
    return stack(ps, dim);
}
inline Tensor rms_norm(const Tensor &x, Shape shape, const Tensor *weight = nullptr,
                       double eps = double(std::numeric_limits<float>::epsilon())) {
    return x.rms_norm(shape, weight, eps);
}
inline Tensor apply_rotary_emb(const Tensor &x, const Tensor &cos, const Tensor &sin) {
    return x.apply_rotary_emb(cos, sin);
}
/* F.scaled_dot_product_attention: q (..., Hq, L, E), k (..., Hk, S, E), v (..., Hk, S, Ev). mask:
 * BOOL (true = may attend) or F32 (added), or nullptr; scale 0 means 1 / sqrt(E). */
inline Tensor scaled_dot_product_attention(const Tensor &q, const Tensor &k, const Tensor &v,
                                           const Tensor *mask = nullptr, double dropout_p = 0,
                                           bool is_causal = false, double scale = 0, bool enable_gqa = false) {
    return detail::out_tensor(rt_tensor_scaled_dot_product_attention, q.get(), k.get(), v.get(), detail::opt(mask),
                              dropout_p, is_causal, scale, enable_gqa);
}

/* Comparisons return BOOL tensors, as libtorch's (not a C++ bool: there is no Tensor equality). */
inline Tensor operator==(const Tensor &a, const Tensor &b) { return a.eq(b); }
inline Tensor operator!=(const Tensor &a, const Tensor &b) { return a.ne(b); }
inline Tensor operator<(const Tensor &a, const Tensor &b) { return a.lt(b); }
inline Tensor operator<=(const Tensor &a, const Tensor &b) { return a.le(b); }
inline Tensor operator>(const Tensor &a, const Tensor &b) { return a.gt(b); }
inline Tensor operator>=(const Tensor &a, const Tensor &b) { return a.ge(b); }
inline Tensor operator==(const Tensor &a, double s) { return a.eq(s); }
inline Tensor operator!=(const Tensor &a, double s) { return a.ne(s); }
inline Tensor operator<(const Tensor &a, double s) { return a.lt(s); }
inline Tensor operator<=(const Tensor &a, double s) { return a.le(s); }
inline Tensor operator>(const Tensor &a, double s) { return a.gt(s); }
inline Tensor operator>=(const Tensor &a, double s) { return a.ge(s); }
/* Logical ops of BOOL tensors, as libtorch's &, |, ~. */
inline Tensor operator&(const Tensor &a, const Tensor &b) { return a.logical_and(b); }
inline Tensor operator|(const Tensor &a, const Tensor &b) { return a.logical_or(b); }
inline Tensor operator~(const Tensor &a) { return a.logical_not(); }

inline Tensor operator+(const Tensor &a, const Tensor &b) { return a.add(b); }
inline Tensor operator-(const Tensor &a, const Tensor &b) { return a.sub(b); }
inline Tensor operator*(const Tensor &a, const Tensor &b) { return a.mul(b); }
inline Tensor operator/(const Tensor &a, const Tensor &b) { return a.div(b); }
inline Tensor operator+(const Tensor &a, double s) { return a.add(s); }
inline Tensor operator-(const Tensor &a, double s) { return a.add(-s); }
inline Tensor operator*(const Tensor &a, double s) { return a.mul(s); }
inline Tensor operator-(const Tensor &a) { return a.neg(); }

/* ---------------------------------------------------------------- Module */

class Module : public detail::Owner<rt_module, rt_module_free> {
  public:
    Module() noexcept = default;
    explicit Module(rt_module *h) noexcept : Owner(h) {}

    static Module linear(int64_t in_features, int64_t out_features, bool bias = true) {
        return out_module(rt_module_linear, in_features, out_features, bias);
    }
    static Module relu() { return out_module(rt_module_relu); }
    static Module gelu() { return out_module(rt_module_gelu); }
    static Module sigmoid() { return out_module(rt_module_sigmoid); }
    static Module tanh() { return out_module(rt_module_tanh); }
    static Module conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride = 1,
                         int64_t padding = 0, bool bias = true) {
        return out_module(rt_module_conv2d, in_channels, out_channels, kernel_size, stride, padding, bias);
    }
    static Module batch_norm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1) {
        return out_module(rt_module_batch_norm1d, num_features, eps, momentum);
    }
    static Module batch_norm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1) {
        return out_module(rt_module_batch_norm2d, num_features, eps, momentum);
    }
    static Module layer_norm(Shape normalized_shape, double eps = 1e-5) {
        return out_module(rt_module_layer_norm, normalized_shape.data(), normalized_shape.size(), eps);
    }
    static Module dropout(double p = 0.5) { return out_module(rt_module_dropout, p); }
    /* stride 0 means kernel_size. */
    static Module max_pool2d(int64_t kernel_size, int64_t stride = 0) {
        return out_module(rt_module_max_pool2d, kernel_size, stride);
    }
    static Module flatten(int64_t start_dim = 1, int64_t end_dim = -1) {
        return out_module(rt_module_flatten, start_dim, end_dim);
    }
    static Module embedding(int64_t num_embeddings, int64_t embedding_dim) {
        return out_module(rt_module_embedding, num_embeddings, embedding_dim);
    }
    static Module softmax(int64_t dim) { return out_module(rt_module_softmax, dim); }
    static Module silu() { return out_module(rt_module_silu); }
    /* nn.GELU(approximate="tanh"). */
    static Module gelu_tanh() { return out_module(rt_module_gelu_tanh); }
    static Module identity() { return out_module(rt_module_identity); }
    /* nn.RMSNorm(shape, eps): parameter `weight`, ones. eps as PyTorch's default (float32's epsilon). */
    static Module rms_norm(Shape normalized_shape, double eps = double(std::numeric_limits<float>::epsilon())) {
        return out_module(rt_module_rms_norm, normalized_shape.data(), normalized_shape.size(), eps);
    }
    /* nn.MultiheadAttention; forward_n({&query, &key, &value, key_padding_mask, attn_mask}) with BOOL
     * masks true = masked out, or forward(x) for self-attention. Returns attn_output only. */
    static Module multihead_attention(int64_t embed_dim, int64_t num_heads, bool bias = true,
                                      bool batch_first = false) {
        return out_module(rt_module_multihead_attention, embed_dim, num_heads, bias, batch_first);
    }
    /* nn.TransformerEncoderLayer with activation relu (gelu = false) or gelu. */
    static Module transformer_encoder_layer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048,
                                            double dropout = 0.1, bool gelu = false, double layer_norm_eps = 1e-5,
                                            bool batch_first = false, bool norm_first = false) {
        return out_module(rt_module_transformer_encoder_layer, d_model, nhead, dim_feedforward, dropout, gelu,
                          layer_norm_eps, batch_first, norm_first);
    }
    /* The container keeps its own references: the children may be destroyed afterwards, so
     * Module::sequential(Module::linear(4, 2), Module::relu()) is fine. */
    static Module sequential(const std::vector<const Module *> &children) {
        std::vector<rt_module *> hs;
        hs.reserve(children.size());
        for (const Module *m : children) hs.push_back(m ? m->get() : nullptr);
        return out_module(rt_module_sequential, static_cast<rt_module *const *>(hs.data()), hs.size());
    }
    template <class... Ms> static Module sequential(const Module &first, const Ms &...rest) {
        static_assert((std::is_same_v<Ms, Module> && ...), "Module::sequential takes Modules");
        return sequential(std::vector<const Module *>{&first, &rest...});
    }

    Tensor forward(const Tensor &input) const { return detail::out_tensor(rt_module_forward, get(), input.get()); }
    Tensor operator()(const Tensor &input) const { return forward(input); }
    /* Training (true) or eval (false) mode, recursively. */
    Module &train(bool training = true) {
        check(rt_module_train(get(), training));
        return *this;
    }
    Module &eval() { return train(false); }
    bool is_training() const { return detail::out_value<bool>(rt_module_is_training, get()); }
    size_t num_tensors() const { return detail::out_value<size_t>(rt_module_num_tensors, get()); }
    /* The state_dict name of tensor index. */
    std::string tensor_name(size_t index) const { return detail::indexed_name(rt_module_tensor_name, get(), index); }
    /* Every state_dict name, in PyTorch's order (parameters then buffers, children in order). */
    std::vector<std::string> state_dict_names() const {
        std::vector<std::string> names(num_tensors());
        for (size_t i = 0; i < names.size(); i++) names[i] = tensor_name(i);
        return names;
    }
    /* A new handle to the module's own tensor (same storage, grad and version). */
    Tensor get_tensor(const std::string &name) const {
        return detail::out_tensor(rt_module_get_tensor, get(), name.c_str());
    }
    void zero_grad() { check(rt_module_zero_grad(get())); }
    /* Copies a safetensors file's tensors into the module's own (in place, versions bumped); all
     * keys, dtypes and shapes are checked first, so a failed load changes nothing. strict: missing
     * and unexpected keys are errors; otherwise the keys both have are loaded. */
    void load_safetensors(const std::string &path, bool strict = true) {
        check(rt_module_load_safetensors(get(), path.c_str(), strict));
    }
    /* load_safetensors with names mapped: map(file_key) is the module's name for it, "" skips the
     * key. An exception thrown by map aborts the load (nothing changed) and is rethrown here. */
    using KeyMap = std::function<std::string(const std::string &file_key)>;
    void load_safetensors_mapped(const std::string &path, const KeyMap &map, bool strict = true) {
        MapCtx ctx{&map, nullptr};
        rt_status s = rt_module_load_safetensors_mapped(get(), path.c_str(), strict, &Module::run_map, &ctx);
        if (ctx.error) std::rethrow_exception(ctx.error);
        check(s);
    }
    /* Writes the state_dict (PyTorch's names) to path, atomically. */
    void save_safetensors(const std::string &path) const { check(rt_module_save_safetensors(get(), path.c_str())); }

    /* ---- modules defined by the caller (API.md 7.A) ---- */

    /* The inputs a forward gets: new handles to the caller's tensors (nullopt where it passed NULL). */
    using Inputs = std::vector<std::optional<Tensor>>;
    /* A forward in C++: `self` is a new handle to the module being run. An infer::Error thrown
     * inside (by a failing call) returns its status with that call's message; any other exception
     * returns RT_ERR_INTERNAL. */
    using ForwardFn = std::function<Tensor(const Module &self, const Inputs &inputs)>;

    /* A module of type type_name running forward; the callable is destroyed with the module's last
     * reference (its handles freed and no parent holding it). */
    static Module custom(const std::string &type_name, ForwardFn forward) {
        auto *ctx = new ForwardFn(std::move(forward));
        rt_module *h = nullptr;
        rt_status s = rt_module_custom(type_name.c_str(), &Module::run_forward, ctx, &Module::free_forward, &h);
        if (s != RT_OK) delete ctx; /* ctx_free never runs for a failed rt_module_custom */
        check(s);
        return Module(h);
    }
    /* A module without forward, holding children (PyTorch's ModuleList / ModuleDict role). */
    static Module container(const std::string &type_name) {
        return out_module(rt_module_custom, type_name.c_str(), rt_forward_fn(nullptr), static_cast<void *>(nullptr),
                          static_cast<void (*)(void *)>(nullptr));
    }
    Module &register_module(const std::string &name, const Module &child) {
        check(rt_module_register_module(get(), name.c_str(), child.get()));
        return *this;
    }
    Module &register_parameter(const std::string &name, const Tensor &t, bool requires_grad = true) {
        check(rt_module_register_parameter(get(), name.c_str(), t.get(), requires_grad));
        return *this;
    }
    Module &register_buffer(const std::string &name, const Tensor &t, bool persistent = true) {
        check(rt_module_register_buffer(get(), name.c_str(), t.get(), persistent));
        return *this;
    }
    /* The module at a dotted path ("" is this module). */
    Module get_module(const std::string &path) const { return out_module(rt_module_get_module, get(), path.c_str()); }
    std::string type_name() const {
        size_t len = 0;
        rt_status s = rt_module_type_name(get(), nullptr, 0, &len);
        if (s != RT_ERR_BUFFER_TOO_SMALL) check(s);
        std::string name(len, '\0');
        check(rt_module_type_name(get(), &name[0], len + 1, &len));
        return name;
    }
    /* Runs the module on several inputs (nullptr entries are absent inputs). */
    Tensor forward_n(const std::vector<const Tensor *> &inputs) const {
        std::vector<const rt_tensor *> hs;
        hs.reserve(inputs.size());
        for (const Tensor *t : inputs) hs.push_back(t ? t->get() : nullptr);
        return detail::out_tensor(rt_module_forward_n, get(), static_cast<const rt_tensor *const *>(hs.data()), hs.size());
    }

  private:
    static rt_status run_forward(void *ctx, const rt_module *self, const rt_tensor *const *inputs, size_t n,
                                 rt_tensor **out) noexcept {
        try {
            Module me = out_module(rt_module_get_module, self, "");
            Inputs xs;
            xs.reserve(n);
            for (size_t i = 0; i < n; i++) {
                if (inputs[i]) {
                    xs.emplace_back(detail::out_tensor(rt_tensor_share, inputs[i]));
                } else {
                    xs.emplace_back(std::nullopt);
                }
            }
            *out = (*static_cast<ForwardFn *>(ctx))(me, xs).release();
            return RT_OK;
        } catch (const Error &e) {
            return e.status();
        } catch (...) {
            return RT_ERR_INTERNAL;
        }
    }
    static void free_forward(void *ctx) noexcept { delete static_cast<ForwardFn *>(ctx); }

    struct MapCtx {
        const KeyMap *map;
        std::exception_ptr error; /* what map threw, rethrown once the C call is back */
    };
    static rt_status run_map(void *ctx, const char *file_key, char *module_key, size_t cap) noexcept {
        auto *c = static_cast<MapCtx *>(ctx);
        try {
            std::string name = (*c->map)(file_key);
            if (name.size() >= cap)
                throw Error(RT_ERR_INVALID_ARGUMENT, "infer::Module::load_safetensors_mapped: the name \"" + name +
                                                         "\" mapped from file key \"" + file_key +
                                                         "\" is longer than any of the module's names; map it "
                                                         "to one of them, or to \"\" to skip it");
            name.copy(module_key, name.size());
            module_key[name.size()] = '\0';
            return RT_OK;
        } catch (const Error &e) {
            c->error = std::current_exception();
            return e.status();
        } catch (...) {
            c->error = std::current_exception();
            return RT_ERR_INTERNAL;
        }
    }

  public:

  private:
    template <class F, class... A> static Module out_module(F f, A... args) {
        return detail::out_handle<Module, rt_module>(f, args...);
    }
};

/* ---------------------------------------------------------------- safetensors files */

/* An opened safetensors file: read and validated whole on open, held in memory until destroyed.
 * Tensors returned by get(name) are independent of it and outlive it. */
class SafeTensors : public detail::Owner<rt_safetensors, rt_safetensors_free> {
  public:
    SafeTensors() noexcept = default;
    explicit SafeTensors(rt_safetensors *h) noexcept : Owner(h) {}

    static SafeTensors open(const std::string &path) {
        return detail::out_handle<SafeTensors, rt_safetensors>(rt_safetensors_open, path.c_str());
    }
    /* Writes the named tensors (unique names) to path, row-major, atomically (a temporary file
     * renamed into place): SafeTensors::save("f.safetensors", {{"weight", &w}, {"bias", &b}}). */
    static void save(const std::string &path, const std::vector<std::pair<std::string, const Tensor *>> &tensors) {
        std::vector<const char *> names;
        std::vector<const rt_tensor *> hs;
        for (const auto &[name, t] : tensors) {
            names.push_back(name.c_str());
            hs.push_back(t ? t->get() : nullptr);
        }
        check(rt_safetensors_save(path.c_str(), names.data(), hs.data(), hs.size()));
    }

    /* The number of tensors (metadata excluded). */
    size_t count() const { return detail::out_value<size_t>(rt_safetensors_count, get()); }
    /* The name of tensor index, names sorted byte-wise. */
    std::string name(size_t index) const { return detail::indexed_name(rt_safetensors_name, get(), index); }
    std::vector<std::string> names() const {
        std::vector<std::string> all(count());
        for (size_t i = 0; i < all.size(); i++) all[i] = name(i);
        return all;
    }
    /* The handle (as every owner's get()). */
    using Owner::get;
    /* A new tensor with the values stored under name: F32 and I64 as such, the other integer types
     * as I64, the other float types as F32; an inference tensor inside inference mode. */
    Tensor get(const std::string &name) const {
        return detail::out_tensor(rt_safetensors_get, get(), name.c_str());
    }
};

/* ---------------------------------------------------------------- Optimizer */

class Optimizer : public detail::Owner<rt_optimizer, rt_optimizer_free> {
  public:
    Optimizer() noexcept = default;
    explicit Optimizer(rt_optimizer *h) noexcept : Owner(h) {}

    /* Over the module's parameters that require grad (the optimizer outlives the module). */
    static Optimizer sgd(Module &m, double lr, double momentum = 0, double weight_decay = 0) {
        return out_opt(rt_optimizer_sgd, m.get(), lr, momentum, weight_decay);
    }
    static Optimizer adam(Module &m, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                          double weight_decay = 0) {
        return out_opt(rt_optimizer_adam, m.get(), lr, beta1, beta2, eps, weight_decay);
    }
    /* Over the listed tensors that require grad. */
    static Optimizer sgd(const std::vector<Tensor *> &params, double lr, double momentum = 0,
                         double weight_decay = 0) {
        std::vector<rt_tensor *> hs = handles(params);
        return out_opt(rt_optimizer_sgd_tensors, static_cast<rt_tensor *const *>(hs.data()), hs.size(), lr, momentum,
                       weight_decay);
    }
    static Optimizer adam(const std::vector<Tensor *> &params, double lr = 1e-3, double beta1 = 0.9,
                          double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0) {
        std::vector<rt_tensor *> hs = handles(params);
        return out_opt(rt_optimizer_adam_tensors, static_cast<rt_tensor *const *>(hs.data()), hs.size(), lr, beta1,
                       beta2, eps, weight_decay);
    }

    void step() { check(rt_optimizer_step(get())); }
    void zero_grad() { check(rt_optimizer_zero_grad(get())); }
    void set_lr(double lr) { check(rt_optimizer_set_lr(get(), lr)); }

  private:
    template <class F, class... A> static Optimizer out_opt(F f, A... args) {
        return detail::out_handle<Optimizer, rt_optimizer>(f, args...);
    }
    static std::vector<rt_tensor *> handles(const std::vector<Tensor *> &ts) {
        std::vector<rt_tensor *> hs;
        hs.reserve(ts.size());
        for (Tensor *t : ts) hs.push_back(t ? t->get() : nullptr);
        return hs;
    }
};

/* ---------------------------------------------------------------- grad modes (per OS thread) */

/* Inference mode for the enclosing scope (enabled = false escapes it). Non-copyable and
 * non-movable: its exit must pair with its own enter, on the same thread. */
class InferenceModeGuard {
  public:
    explicit InferenceModeGuard(bool enabled = true) { check(rt_inference_mode_enter(enabled)); }
    /* Fails (leaving the frame) only if a frame entered inside the scope was not exited, which RAII
     * guards cannot cause; a destructor must not throw. */
    ~InferenceModeGuard() { (void)rt_inference_mode_exit(); }
    InferenceModeGuard(const InferenceModeGuard &) = delete;
    InferenceModeGuard &operator=(const InferenceModeGuard &) = delete;
    InferenceModeGuard(InferenceModeGuard &&) = delete;
    InferenceModeGuard &operator=(InferenceModeGuard &&) = delete;
};

/* Grad mode off (torch.no_grad) for the enclosing scope. */
class NoGradGuard {
  public:
    NoGradGuard() { check(rt_grad_mode_enter(false)); }
    ~NoGradGuard() { (void)rt_grad_mode_exit(); }
    NoGradGuard(const NoGradGuard &) = delete;
    NoGradGuard &operator=(const NoGradGuard &) = delete;
    NoGradGuard(NoGradGuard &&) = delete;
    NoGradGuard &operator=(NoGradGuard &&) = delete;
};

/* Runs f() in inference mode (rt_with_inference_mode) and returns its result. Frames f left open
 * are popped, then RT_ERR_INVALID_STATE is thrown; an exception f throws is rethrown as is, after
 * the mode is restored. */
template <class F, class R = std::decay_t<std::invoke_result_t<F &>>> R with_inference_mode(F &&f) {
    struct Ctx {
        F *f;
        std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> result;
        std::exception_ptr error;
    } ctx{&f, std::nullopt, nullptr};
    auto run = [](void *p) noexcept -> rt_status {
        auto *c = static_cast<Ctx *>(p);
        try {
            if constexpr (std::is_void_v<R>) {
                (*c->f)();
                c->result.emplace(true);
            } else {
                c->result.emplace((*c->f)());
            }
            return RT_OK;
        } catch (const Error &e) {
            c->error = std::current_exception();
            return e.status();
        } catch (...) {
            c->error = std::current_exception();
            return RT_ERR_INTERNAL;
        }
    };
    rt_status s = rt_with_inference_mode(run, &ctx);
    if (ctx.error) std::rethrow_exception(ctx.error);
    check(s);
    if constexpr (!std::is_void_v<R>) return std::move(*ctx.result);
}

inline bool is_grad_enabled() noexcept { return rt_is_grad_enabled(); }
inline bool is_inference_mode_enabled() noexcept { return rt_is_inference_mode_enabled(); }

/* ---------------------------------------------------------------- runtime */

inline void manual_seed(uint64_t seed) noexcept { rt_manual_seed(seed); }
inline void set_num_threads(size_t n) { check(rt_set_num_threads(n)); }
inline size_t get_num_threads() noexcept { return rt_get_num_threads(); }
inline rt_memory_stats memory_stats() { return detail::out_value<rt_memory_stats>(rt_memory_stats_get); }
inline void reset_peak_memory() noexcept { rt_memory_reset_peak(); }
inline const char *version_string() noexcept { return rt_version_string(); }
inline uint32_t abi_version() noexcept { return rt_abi_version(); }

/* ---------------------------------------------------------------- AdamW, gradient clipping (API.md 8) */

/* torch.optim.AdamW (decoupled weight decay) over the module's parameters that require grad. */
inline Optimizer adamw(Module &m, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
                       double weight_decay = 0.01) {
    return detail::out_handle<Optimizer, rt_optimizer>(rt_optimizer_adamw, m.get(), lr, beta1, beta2, eps,
                                                       weight_decay);
}

namespace detail {
inline std::vector<rt_tensor *> tensor_handles(const std::vector<Tensor *> &ts) {
    std::vector<rt_tensor *> hs;
    hs.reserve(ts.size());
    for (Tensor *t : ts) hs.push_back(t ? t->get() : nullptr);
    return hs;
}
}  // namespace detail

/* torch.optim.AdamW over the listed tensors that require grad. */
inline Optimizer adamw(const std::vector<Tensor *> &params, double lr = 1e-3, double beta1 = 0.9,
                       double beta2 = 0.999, double eps = 1e-8, double weight_decay = 0.01) {
    std::vector<rt_tensor *> hs = detail::tensor_handles(params);
    return detail::out_handle<Optimizer, rt_optimizer>(rt_optimizer_adamw_tensors,
                                                       static_cast<rt_tensor *const *>(hs.data()), hs.size(), lr,
                                                       beta1, beta2, eps, weight_decay);
}

/* torch.nn.utils.clip_grad_norm_: scales the gradients in place; returns their total norm before
 * clipping. norm_type: p > 0 or INFINITY. */
inline double clip_grad_norm(const std::vector<Tensor *> &params, double max_norm, double norm_type = 2.0) {
    std::vector<rt_tensor *> hs = detail::tensor_handles(params);
    double total = 0;
    check(rt_clip_grad_norm(static_cast<rt_tensor *const *>(hs.data()), hs.size(), max_norm, norm_type, &total));
    return total;
}
inline double clip_grad_norm(Module &m, double max_norm, double norm_type = 2.0) {
    double total = 0;
    check(rt_module_clip_grad_norm(m.get(), max_norm, norm_type, &total));
    return total;
}

}  // namespace infer

#endif /* INFER_HPP */
