/* consumer.c's computation through the C++17 header infer.hpp, for the packages' C++ users. */
#include <cstdio>

#include "infer.hpp"

int main() try {
    if (infer::abi_version() != RT_ABI_VERSION) {
        std::fprintf(stderr, "error: infer.h has ABI version %d, the library %u\n", RT_ABI_VERSION, infer::abi_version());
        return 1;
    }
    infer::Tensor x = infer::from_data(std::vector<float>{1, 2}, {1, 2});
    infer::Tensor w = infer::from_data(std::vector<float>{1, 0, 0.5f, -1}, {2, 2});
    infer::Tensor b = infer::from_data(std::vector<float>{0.25f, 0}, {2});
    std::vector<float> y = infer::linear(x, w, b).to_vector<float>();
    if (y != std::vector<float>{1.25f, -1.5f}) {
        std::fprintf(stderr, "error: y = [%g, %g], expected [1.25, -1.5]\n", y[0], y[1]);
        return 1;
    }
    std::printf("consumer: libinfer %s, ABI %u, y = [%g, %g]\n", infer::version_string(), infer::abi_version(), y[0],
                y[1]);
    return 0;
} catch (const infer::Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
