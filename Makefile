# The two entry points (see README.md):
#   make demo   build in release and run the demos (examples_c/digits.c, examples_c/llama.c, then
#               examples_c/char_transformer.c)
#   make test   run every test: cargo's (Rust unit tests, tests/c_tests.rs, tests/cpp_tests.rs,
#               tests/header.rs, doc tests), the Rust examples (examples/*.rs), then CMake
#               configure + build + CTest in build/: the examples of examples_c/ and the packaging
#               tests of tests/consumers/ (the debug build installed
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
# Hugging Face Llama checkpoint built from caller-defined modules; then examples_c/char_transformer.c
# trains a character transformer from C on the same text, reloads it and samples from it.
DEMO := digits

CMAKE_CONFIGURE = $(CMAKE) -S . -B $(BUILD_DIR) -DINFER_CARGO_TARGET_DIR=$(CURDIR)/target

.PHONY: demo test

demo:
	$(CMAKE_CONFIGURE) -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build $(BUILD_DIR) --target $(DEMO) llama char_transformer
	./$(BUILD_DIR)/examples_c/$(DEMO) examples_c/digits.safetensors $(BUILD_DIR)
	./$(BUILD_DIR)/examples_c/llama tests/fixtures/llama/untied
	./$(BUILD_DIR)/examples_c/char_transformer tests/fixtures/llama/corpus.txt $(BUILD_DIR)

test:
	$(CARGO) test
	$(CARGO) run --quiet --example digits examples_c/digits.safetensors target
	$(CARGO) run --quiet --example ndarray_mlp
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

# crates.io readiness: the package holds what a build needs and none of the C tests, fixtures,
# fuzz corpora or bindings (Cargo.toml's `include`), then `cargo package` builds the packaged crate
# in target/package (its build.rs regenerates the header into OUT_DIR from the packaged src/ffi).
PACKAGE_NEEDS := Cargo.toml Cargo.lock build.rs cbindgen.toml include/infer.h include/infer.hpp README.md src/lib.rs src/ffi/types.rs docs/API.md LICENSE-MIT LICENSE-APACHE
package-check:
	@mkdir -p target
	$(CARGO) package --list --allow-dirty > target/package-list.txt
	@for f in $(PACKAGE_NEEDS); do grep -qx "$$f" target/package-list.txt || { echo "package-check: $$f is missing from the package"; exit 1; }; done
	@! grep -E '^(c_tests|cpp_tests|tests|fuzz|bindings|examples_c|cmake|benches)/' target/package-list.txt || { echo "package-check: test or fixture files are in the package"; exit 1; }
	@echo "package-check: $$(wc -l < target/package-list.txt) files listed"
	$(CARGO) package --allow-dirty

.PHONY: check-asan check-valgrind check-tsan check-isa fuzz-smoke lint package-check

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
