/* A tiny C++ test harness, the same scheme as c_tests/harness.h: TEST(name) registers a case and
 * each case runs in its own process, started by tests/cpp_tests.rs (`prog --list`, then
 * `prog NAME`). A failed CHECK, or an exception escaping a case, prints where and why and exits
 * non-zero. Header-only: each test program is one .cpp file that includes it once (it defines main). */
#ifndef INFER_CPP_TEST_HARNESS_HPP
#define INFER_CPP_TEST_HARNESS_HPP

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "infer.hpp"

namespace harness {
using Case = std::pair<const char *, void (*)()>;

inline std::vector<Case> &cases() {
    static std::vector<Case> all;
    return all;
}

inline bool add(const char *name, void (*fn)()) {
    cases().emplace_back(name, fn);
    return true;
}

[[noreturn]] inline void fail(const char *file, int line, const std::string &what) {
    std::fprintf(stderr, "FAILED at %s:%d: %s\n", file, line, what.c_str());
    std::exit(1);
}

/* Runs f, which must throw infer::Error with `status`; returns the error for further checks. */
template <class F> infer::Error expect_error(F f, rt_status status, const char *expr, const char *file, int line) {
    try {
        f();
    } catch (const infer::Error &e) {
        if (e.status() != status)
            fail(file, line,
                 std::string(expr) + " threw status " + std::to_string(e.status()) + " (" + e.what() + "), expected " +
                     std::to_string(status));
        return e;
    }
    fail(file, line, std::string(expr) + " did not throw");
}

inline void check_near(double a, double b, double tol, const char *ea, const char *eb, const char *file, int line) {
    if (!(std::fabs(a - b) <= tol)) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s = %.9g, %s = %.9g, tolerance %g", ea, a, eb, b, tol);
        fail(file, line, buf);
    }
}

inline void check_all_near(const std::vector<float> &got, const std::vector<float> &want, double tol,
                           const char *file, int line) {
    if (got.size() != want.size())
        fail(file, line, "got " + std::to_string(got.size()) + " values, expected " + std::to_string(want.size()));
    for (size_t i = 0; i < got.size(); i++) {
        if (!(std::fabs(double(got[i]) - double(want[i])) <= tol)) {
            char buf[256];
            std::snprintf(buf, sizeof buf, "element %zu is %.9g, expected %.9g (tolerance %g)", i, got[i], want[i], tol);
            fail(file, line, buf);
        }
    }
}

inline bool mentions(const infer::Error &e, const char *needle) { return std::strstr(e.what(), needle) != nullptr; }
}  // namespace harness

#define TEST(name)                                                                            \
    static void name();                                                                       \
    [[maybe_unused]] static const bool harness_registered_##name = harness::add(#name, name); \
    static void name()

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) harness::fail(__FILE__, __LINE__, "CHECK(" #cond ")");      \
    } while (0)

/* The expression must throw infer::Error with this status; evaluates to the error. */
#define EXPECT_ERROR(expr, status) harness::expect_error([&] { (void)(expr); }, (status), #expr, __FILE__, __LINE__)

#define CHECK_NEAR(a, b, tol) harness::check_near((a), (b), (tol), #a, #b, __FILE__, __LINE__)
#define CHECK_ALL_NEAR(got, want, tol) harness::check_all_near((got), (want), (tol), __FILE__, __LINE__)

int main(int argc, char **argv) {
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
        for (const auto &c : harness::cases()) std::printf("%s\n", c.first);
        return 0;
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s --list | TEST_NAME\n", argv[0]);
        return 2;
    }
    for (const auto &c : harness::cases()) {
        if (std::strcmp(argv[1], c.first) != 0) continue;
        try {
            c.second();
        } catch (const infer::Error &e) {
            std::fprintf(stderr, "FAILED: uncaught infer::Error, status %u (%s): %s\n", unsigned(e.status()),
                         e.status_str(), e.what());
            return 1;
        } catch (const std::exception &e) {
            std::fprintf(stderr, "FAILED: uncaught exception: %s\n", e.what());
            return 1;
        }
        return 0;
    }
    std::fprintf(stderr, "no test named %s\n", argv[1]);
    return 2;
}

#endif
