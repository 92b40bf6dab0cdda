# The two entry points (see README.md):
#   make demo   build in release and run the demo (examples_c/digits.c)
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
# inference mode (its weights go to $(BUILD_DIR)).
DEMO := digits

CMAKE_CONFIGURE = $(CMAKE) -S . -B $(BUILD_DIR) -DINFER_CARGO_TARGET_DIR=$(CURDIR)/target

.PHONY: demo test

demo:
	$(CMAKE_CONFIGURE) -DCMAKE_BUILD_TYPE=Release
	$(CMAKE) --build $(BUILD_DIR) --target $(DEMO)
	./$(BUILD_DIR)/examples_c/$(DEMO) examples_c/digits.safetensors $(BUILD_DIR)

test:
	$(CARGO) test
	$(CMAKE_CONFIGURE) -DCMAKE_BUILD_TYPE=Debug
	$(CMAKE) --build $(BUILD_DIR)
	$(CTEST) --test-dir $(BUILD_DIR) --output-on-failure
