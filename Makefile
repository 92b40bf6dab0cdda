# The two entry points (see README.md):
#   make demo   build in release and run the demos (examples_c/digits.c, then examples_c/llama.c)
#   make test   run every test: cargo's (Rust unit tests, tests/c_tests.rs, tests/cpp_tests.rs,
#               tests/header.rs), then CMake configure + build + CTest in build/: the examples of
#               examples_c/ and the packaging tests of tests/consumers/ (the debug build installed
#               into a test prefix, then used through find_package, add_subdirectory, pkg-config,
#               the README's snippets, and `go test` in bindings/go through pkg-config)
# The Makefile points CMake's cargo step at target/ (CARGO_TARGET_DIR), so cargo and CMake share
# one build cache instead of compiling every dependency twice.

CARGO ?= cargo
CMAKE ?= cmake
CTEST ?= ctest
BUILD_DIR := build
MAKEFLAGS += --no-print-directory

# The demo: examples_c/digits.c trains an MLP and a CNN on the digits, then serves them in
# inference mode (its weights go to $(BUILD_DIR)); then examples_c/llama.c generates text with a
# Hugging Face Llama checkpoint built from caller-defined modules.
DEMO := digits

CMAKE_CONFIGURE = $(CMAKE) -S . -B $(BUILD_DIR) -DINFER_CARGO_TARGET_DIR=$(CURDIR)/target

.PHONY: demo test

demo:
	$(CMAKE_CONFIGURE) -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build $(BUILD_DIR) --target $(DEMO) llama
	./$(BUILD_DIR)/examples_c/$(DEMO) examples_c/digits.safetensors $(BUILD_DIR)
	./$(BUILD_DIR)/examples_c/llama tests/fixtures/llama/untied

test:
	$(CARGO) test
	$(CMAKE_CONFIGURE) -DCMAKE_BUILD_TYPE=Debug
	$(CMAKE) --build $(BUILD_DIR)
	$(CTEST) --test-dir $(BUILD_DIR) --output-on-failure

# The boundary checks of docs/bad-inputs.md ("Checking the boundary"):
#   make check-asan       C tests under AddressSanitizer + UBSan (library built with -Zsanitizer=address)
#   make check-valgrind   C tests under valgrind memcheck, and the GEMM dispatch under valgrind
#   make check-tsan       C tests under ThreadSanitizer (library and std rebuilt: needs rust-src)
#   make fuzz-smoke       each cargo-fuzz target for FUZZ_SECONDS (needs cargo-fuzz)
#   make check-isa        C tests and tests/vmath_isa.rs under each instruction-set cap (INFER_CPU=avx2, then baseline), so
#                         the lower kernel paths are tested on a CPU that would not pick them
FUZZ_TARGETS := safetensors api_calls
FUZZ_SECONDS ?= 30
HOST_TRIPLE = $(shell rustc -vV | sed -n 's/^host: //p')
HOST_RUNNER_VAR = CARGO_TARGET_$(shell echo $(HOST_TRIPLE) | tr 'a-z-' 'A-Z_')_RUNNER
# "possibly lost" blocks are the stacks of pool threads still parked when a test binary exits; only
# definitely lost bytes are leaks.
VALGRIND_RUNNER = valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-possibly-lost=no

# The Rust face: formatting, lints on every target, and the crate's documentation without a warning.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

.PHONY: check-asan check-valgrind check-tsan check-isa fuzz-smoke lint

check-isa:
	INFER_CPU=avx2 $(CARGO) test --test c_tests
	INFER_CPU=baseline $(CARGO) test --test c_tests
	INFER_CPU=avx2 $(CARGO) test --test vmath_isa
	INFER_CPU=baseline $(CARGO) test --test vmath_isa

check-asan:
	INFER_C_TESTS_MODE=asan $(CARGO) test --test c_tests

check-valgrind:
	INFER_C_TESTS_MODE=valgrind $(CARGO) test --test c_tests
	$(HOST_RUNNER_VAR)="$(VALGRIND_RUNNER)" INFER_EXPECT_NO_AVX512=1 $(CARGO) test --test cpu_dispatch -- --nocapture

check-tsan:
	INFER_C_TESTS_MODE=tsan $(CARGO) test --test c_tests

fuzz-smoke:
	@mkdir -p target
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s, log in target/fuzz-$$t.log)"; \
		mkdir -p fuzz/corpus/$$t || exit 1; \
		(cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t seeds/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=30 -print_final_stats=1) > target/fuzz-$$t.log 2>&1 \
			|| { tail -n 80 target/fuzz-$$t.log; exit 1; }; \
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' target/fuzz-$$t.log; \
	done
