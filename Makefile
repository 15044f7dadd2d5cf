# qlab Makefile: the one entry point.
#
#   make            build everything this machine can (CUDA parts only when nvcc is found)
#   make run        the default experiment on the best backend present: results + table + figures
#   make test       every CPU test (and the GPU tests when a usable GPU is present)
#   make test-gpu   the GPU tests alone (they skip, saying why, without a GPU)
#   make baseline   regenerate results/baselines/baseline.h5 on purpose (see README)
#   make bench-cpu  int8 GEMM vs float64 reference GEMM on the CPU
#   make bench-verdicts  timing verdicts of identical runs (none allowed) and of a 2x slowdown
#   make bench-store     cost per appended point, first thousand against last
#   make plots      figures of the newest default run into plots/out/
#   make clean
#
# `make run` and `make test` first run tools/setup.sh, which installs missing Debian
# packages (quiet when all are present), so they are all a fresh machine needs.

SHELL := /bin/bash
CC ?= gcc
NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
# The toolkit's root (its include/ and lib64/): CUDA_HOME when set; else the TOP that
# nvcc reports (`nvcc -v --dryrun`: the real nvcc's folder, right through a wrapper
# script such as /usr/local/bin/nvcc exec'ing it); else the folder above nvcc with
# symlinks resolved, if that nvcc is a program (ELF), not a script; else /usr/local/cuda.
# Each candidate must hold include/cuda_runtime_api.h. Never a wrapper's own folder
# (/usr/local may hold the headers but not the libraries). Computed once; $(or) stops
# at the first candidate that qualifies.
cuda_root = $(if $(wildcard $(1)/include/cuda_runtime_api.h),$(1))
ifeq ($(strip $(CUDA_HOME)),)
CUDA_HOME := $(or $(if $(NVCC),$(call cuda_root,$(abspath $(shell $(NVCC) -v --dryrun -c -x cu /dev/null -o /dev/null 2>&1 | sed -n 's/^.. TOP=//p' | head -n 1)))),$(if $(filter ELF,$(shell head -c 4 $(realpath $(NVCC)) 2>/dev/null | tail -c 3)),$(call cuda_root,$(patsubst %/bin/,%,$(dir $(realpath $(NVCC)))))),/usr/local/cuda)
endif
CPU_ARCH ?= -march=native
OPT ?= -O3
CUDA_ARCHS ?= 80 89 90
# Set CUDA=0 to build without CUDA even where nvcc is present.
CUDA ?= $(if $(NVCC),1,0)

# CUDA and non-CUDA objects differ (-DQLAB_HAVE_CUDA): keep them apart.
B ?= build$(if $(filter 0,$(CUDA)),/cpu-only)

# pkg-config is read lazily (=) so that a make after tools/setup.sh sees the packages.
PKGS := hdf5 libfyaml openblas zlib libpng libjpeg
DEP_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CRIT_LIBS = $(shell pkg-config --libs criterion 2>/dev/null || echo -lcriterion)

# -Wno-psabi: the GCC vector types of gemm.c and metrics.c pass between static functions
# only, so the note that a -march=x86-64 build passes them differently is moot.
WARN := -Wall -Wextra -Wno-unused-parameter -Wno-psabi
# quant/ and every code-producing path: no fast-math, no fused multiply-add contraction.
# Includes are written from the repository root (quant/quant.h) or from harness/
# (store/results.h), so the two include roots.
BASE_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(CPU_ARCH) \
               -ffp-contract=off -fno-fast-math -fopenmp -g $(WARN) -I. -Iharness
# Without CUDA, the binary says why: nvcc missing, or CUDA=0 (make run's choice where no
# GPU is usable, or the user's) although nvcc is there (QLAB_CUDA_DISABLED).
CFLAGS_ALL = $(BASE_CFLAGS) $(DEP_CFLAGS) \
  $(if $(filter 1,$(CUDA)),-DQLAB_HAVE_CUDA -I$(CUDA_HOME)/include,$(if $(NVCC),-DQLAB_CUDA_DISABLED)) $(EXTRA_CFLAGS)
LDLIBS_ALL = $(DEP_LIBS) -lm -fopenmp $(CUDA_LIBS) $(EXTRA_LDFLAGS)

QUANT_SRC := $(wildcard quant/*.c)
HARNESS_ALL := $(wildcard harness/*/*.c)
HARNESS_CUDA_SRC := $(filter %_cuda.c,$(HARNESS_ALL))
HARNESS_SRC := $(filter-out harness/cli/main.c $(if $(filter 1,$(CUDA)),,$(HARNESS_CUDA_SRC)),$(HARNESS_ALL))
TEST_SRC := $(wildcard tests/test_*.c)
GPU_TEST_SRC := $(wildcard tests/gpu/test_*.c)
KERNEL_SRC := $(wildcard kernels/*.cu)
BENCH_SRC := $(wildcard tools/bench_cpu.c)

QUANT_OBJ := $(QUANT_SRC:%.c=$(B)/%.o)
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(B)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(B)/%.o)
GPU_TEST_OBJ := $(GPU_TEST_SRC:%.c=$(B)/%.o)
KERNEL_OBJ := $(KERNEL_SRC:%.cu=$(B)/%.o)

ifeq ($(CUDA),1)
# libquant.a again after the kernels: they use quant/'s tables (the 4-bit code books).
CUDA_LIBS := $(B)/libqlabkernels.a $(B)/libquant.a -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcudart -lstdc++
NVCC_GENCODE := $(foreach a,$(CUDA_ARCHS),-gencode arch=compute_$(a),code=sm_$(a))
NVCC_FLAGS ?= -O3 -std=c++17 $(NVCC_GENCODE) -Xcompiler -fPIC,-Wall --fmad=false -lineinfo
CUDA_TARGETS := $(B)/libqlabkernels.a $(B)/test-gpu
else
CUDA_LIBS :=
CUDA_TARGETS :=
endif

.PHONY: readme-figures print-flags print-pkgs all deps run test baseline test-cpu test-gpu bench-cpu bench-verdicts bench-store plots clean info \
        test-asan test-kill test-slurm fuzz install python-lib
all: $(B)/qlab $(B)/qlab-tests $(CUDA_TARGETS)
	@echo "qlab: built $(B)/qlab (CUDA: $(if $(filter 1,$(CUDA)),yes via $(NVCC) for sm_$(subst $(eval) $(eval),/sm_,$(CUDA_ARCHS)),no: nvcc not found))"

deps:
	@bash tools/setup.sh

$(B)/libquant.a: $(QUANT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

# The commit qlab was built from; rewritten only when it changes, so it rebuilds little.
GIT_DESC = $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
# A hash of the sources that compute numbers (quant/, kernels/, harness/ less report/
# and cli/, which only read results), recorded in every results file: two runs with the
# same hash ran the same arithmetic, so the baseline gate can tell a code change from
# an environment change.
SRC_HASH = $(shell cat $(sort $(wildcard quant/*.[ch] kernels/*.cu kernels/*.cuh kernels/*.h \
             $(foreach d,core store models workloads backends sweep,harness/$(d)/*.[ch]))) | sha256sum | cut -c1-16)
# The compiler and flags, recorded by harness/core/provenance.c (qlab info, results files):
# quoted for a C string, then for the shell.
BUILD_FLAGS_DESC = $(strip CC=$(CC) CFLAGS=$(CFLAGS_ALL)$(if $(filter 1,$(CUDA)), NVCC=$(NVCC) NVCC_FLAGS=$(NVCC_FLAGS)))
c_quote = $(subst ",\",$(subst \,\\,$(1)))
sh_quote = $(subst ','\'',$(1))
$(B)/version.c: FORCE
	@mkdir -p $(@D)
	@printf 'const char qlab_git_commit[] = "%s";\nconst char qlab_source_hash[] = "%s";\nconst char qlab_build_flags[] = "%s";\n' \
	  '$(GIT_DESC)' '$(SRC_HASH)' '$(call sh_quote,$(call c_quote,$(BUILD_FLAGS_DESC)))' > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@
FORCE:

# The settings the objects were built with; rewritten only when they change, and every
# object depends on it, so `make B=dir CUDA=0` after a CUDA build of dir (or a change
# of OPT, CPU_ARCH, EXTRA_CFLAGS) rebuilds instead of linking stale objects.
$(B)/build-flags: FORCE
	@mkdir -p $(@D)
	@echo 'CUDA=$(CUDA) CC=$(CC) CFLAGS=$(CFLAGS_ALL) NVCC=$(NVCC) NVCC_FLAGS=$(NVCC_FLAGS)' > $@.new
	@cmp -s $@.new $@ && rm $@.new || mv $@.new $@

$(B)/version.o: $(B)/version.c $(B)/build-flags
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/libqlab.a: $(HARNESS_OBJ) $(B)/version.o
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/libqlabkernels.a: $(KERNEL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(B)/%.o: %.c $(wildcard quant/*.h harness/*/*.h kernels/*.h) $(B)/build-flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/kernels/%.o: kernels/%.cu $(wildcard kernels/*.h kernels/*.cuh quant/*.h) $(B)/build-flags
	@mkdir -p $(@D)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@

$(B)/qlab: $(B)/harness/cli/main.o $(B)/libqlab.a $(B)/libquant.a $(if $(filter 1,$(CUDA)),$(B)/libqlabkernels.a)
	$(CC) -o $@ $(B)/harness/cli/main.o $(B)/libqlab.a $(B)/libquant.a $(LDLIBS_ALL)

$(B)/qlab-tests: $(TEST_OBJ) $(B)/libqlab.a $(B)/libquant.a $(if $(filter 1,$(CUDA)),$(B)/libqlabkernels.a)
	$(CC) -o $@ $(TEST_OBJ) $(B)/libqlab.a $(B)/libquant.a $(CRIT_LIBS) $(LDLIBS_ALL)

$(B)/test-gpu: $(GPU_TEST_OBJ) $(B)/libqlab.a $(B)/libquant.a $(B)/libqlabkernels.a
	$(CC) -o $@ $(GPU_TEST_OBJ) $(B)/libqlab.a $(B)/libquant.a $(CRIT_LIBS) $(LDLIBS_ALL)

$(B)/bench-store: tools/bench_store.c $(B)/libqlab.a $(B)/libquant.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libqlab.a $(B)/libquant.a $(LDLIBS_ALL)

$(B)/bench-cpu: tools/bench_cpu.c $(B)/libquant.a
	$(CC) $(CFLAGS_ALL) -o $@ $< $(B)/libquant.a $(LDLIBS_ALL)

# --------------------------------------------------------------------------------
# User-facing targets

# `make run` builds only what it runs: the qlab binary, no tests; with CUDA only when a
# GPU is usable here (nvidia-smi answers) and then for that GPU's architecture alone
# (its own build directory, so the three-architecture build of `make test` is untouched).
GPU_CC = $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n 1 | tr -d '. ')
RUN_CUDA = $(if $(and $(NVCC),$(GPU_CC)),1,0)
RUN_B = $(if $(filter 1,$(RUN_CUDA)),build/run-sm$(GPU_CC),build/cpu-only)
run: deps
	@$(MAKE) -j$$(nproc) --no-print-directory CUDA=$(RUN_CUDA) B=$(RUN_B) \
	  $(if $(filter 1,$(RUN_CUDA)),CUDA_ARCHS=$(GPU_CC)) $(RUN_B)/qlab
	@echo "qlab: built $(RUN_B)/qlab ($(if $(filter 1,$(RUN_CUDA)),CUDA for sm_$(GPU_CC),CPU only: no usable GPU here))"
	@mkdir -p results
	./$(RUN_B)/qlab run experiments/default.yaml
	@f=$$(ls -t results/default-*.h5 | head -n 1); ./$(RUN_B)/qlab show "$$f"; \
	  ./$(RUN_B)/qlab plot "$$f" -o plots/out

# Criterion runs tests in parallel workers; -j keeps it to the machine's cores.
test: deps
	@$(MAKE) -j$$(nproc) --no-print-directory all $(if $(filter 1,$(CUDA)),$(B)/test-gpu)
	./$(B)/qlab-tests --jobs $$(nproc)
	python3 tools/check_layers.py $(B)
	@# --verbose prints each skipped GPU test with its reason (no usable GPU: ...)
	@if [ -x $(B)/test-gpu ]; then ./$(B)/test-gpu --verbose; fi
	QLAB=$(B)/qlab bash tests/run_cli_tests.sh
	QLAB=$(B)/qlab bash tests/verdict_test.sh
	QLAB=$(B)/qlab python3 tools/check_vit_dump.py
	bash tests/doc_paths_test.sh
	QLAB=$(B)/qlab bash tools/check_baseline.sh
	@$(MAKE) --no-print-directory $(B)/libquant.so && QLAB=$(B)/qlab QLAB_LIBQUANT=$(B)/libquant.so bash python/tests/run.sh
	MAKE="$(MAKE)" QLAB_MAKE_ARGS="B=$(B) CUDA=$(CUDA)" bash tests/install_test.sh

# The accuracy regression baseline that `make test` compares against. Regenerate it
# only when a change is meant to move error numbers: this prints what moved against
# the old file, then replaces it; review that and commit the file with the change.
baseline: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/qlab
	@rm -f results/baselines/baseline.new.h5
	$(B)/qlab run experiments/baseline.yaml -o results/baselines/baseline.new.h5 --no-progress
	@if [ -f results/baselines/baseline.h5 ]; then \
	  $(B)/qlab compare results/baselines/baseline.h5 results/baselines/baseline.new.h5 || true; fi
	mv results/baselines/baseline.new.h5 results/baselines/baseline.h5
	@echo "baseline: results/baselines/baseline.h5 regenerated; commit it with the change that moved it"

# --------------------------------------------------------------------------------
# Robustness (see README, "Robustness testing")

# The CPU test suite and the CLI tests under AddressSanitizer (leaks included) and
# UndefinedBehaviorSanitizer, in their own build directory. Reports go to files under
# build/asan/reports/; any report fails the target, whatever the exit statuses said.
ASAN_DIR ?= build/asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_DIR)/reports/asan \
          LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
          UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_DIR)/reports/ubsan
test-asan: deps
	@$(MAKE) -j$$(nproc) --no-print-directory B=$(ASAN_DIR) CUDA=0 OPT=-O1 EXTRA_CFLAGS="$(SAN_FLAGS)" \
	  EXTRA_LDFLAGS="$(SAN_FLAGS)" $(ASAN_DIR)/qlab $(ASAN_DIR)/qlab-tests
	@rm -rf $(ASAN_DIR)/reports; mkdir -p $(ASAN_DIR)/reports
	@st=0; $(SAN_ENV) ./$(ASAN_DIR)/qlab-tests --jobs $$(nproc) || st=1; \
	  $(SAN_ENV) QLAB=$(ASAN_DIR)/qlab bash tests/run_cli_tests.sh || st=1; \
	  if grep -qlE 'ERROR: |runtime error' $(ASAN_DIR)/reports/* 2>/dev/null; then \
	    for f in $$(grep -lE 'ERROR: |runtime error' $(ASAN_DIR)/reports/*); do echo "== $$f"; head -n 40 "$$f"; done; \
	    echo "test-asan: sanitizer reports in $(ASAN_DIR)/reports/"; st=1; fi; \
	  if [ $$st = 0 ]; then echo "test-asan: no sanitizer reports"; fi; exit $$st

# SIGKILL at random moments, signals, full disk, unwritable directory.
test-kill: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/qlab
	QLAB=$(B)/qlab bash tests/kill_test.sh

# A single-node Slurm cluster on this machine running a sharded sweep (installs
# slurm-wlm and munge when missing; needs root).
test-slurm: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/qlab
	QLAB=$(B)/qlab bash tests/slurm_test.sh

# libFuzzer harnesses, FUZZ_SECONDS each (default 60).
fuzz:
	bash fuzz/run.sh

test-gpu: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/test-gpu
	./$(B)/test-gpu

# A CPU benchmark, so the CPU-only build (what `make run` uses without a GPU): a CUDA
# build without a usable GPU loads and probes the CUDA runtime at start, which cost
# 0.1 s and 200 MB of peak RSS per run here.
bench-cpu: deps
	@$(MAKE) -j$$(nproc) --no-print-directory CUDA=0 B=build/cpu-only build/cpu-only/bench-cpu build/cpu-only/qlab
	./build/cpu-only/bench-cpu
	QLAB=build/cpu-only/qlab bash tools/bench_peer.sh

# Appending 7,280 points to a results file: cost per point of the first and last
# thousand (flat when the store is linear).
bench-store: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/bench-store $(B)/qlab
	BENCH_STORE=$(B)/bench-store QLAB=$(B)/qlab bash tools/bench_store.sh

# Ten pairs of identical timed runs (no timing verdict may appear) and a 2x heavier
# shape (every point must be WORSE on time); about a minute on 2 cores.
bench-verdicts: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/qlab
	QLAB=$(B)/qlab bash tools/bench_verdicts.sh

plots: $(B)/qlab
	@f=$$(ls -t results/default-*.h5 | head -n 1); ./$(B)/qlab plot "$$f" -o plots/out

info: $(B)/qlab
	./$(B)/qlab info

clean:
	rm -rf $(B)

# `make install [PREFIX=/usr/local] [DESTDIR=]`: the qlab binary into PREFIX/bin, its
# gnuplot scripts into PREFIX/share/qlab/plots (where the installed binary looks,
# relative to its own path) and the example experiments into
# PREFIX/share/qlab/experiments. tests/install_test.sh (make test) checks it.
PREFIX ?= /usr/local
install: $(B)/qlab
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/qlab/plots $(DESTDIR)$(PREFIX)/share/qlab/experiments
	install -m 755 $(B)/qlab $(DESTDIR)$(PREFIX)/bin/qlab
	install -m 644 plots/*.gp $(DESTDIR)$(PREFIX)/share/qlab/plots/
	install -m 644 experiments/*.yaml $(DESTDIR)$(PREFIX)/share/qlab/experiments/

# quant/ as a shared library for the Python package (python/, qlab.quant through
# ctypes): the same sources and flags as libquant.a (-ffp-contract=off, no fast-math),
# position-independent. `make python-lib` also puts a copy in python/qlab/, so that
# `pip install ./python` carries it.
$(B)/pic/%.o: %.c $(wildcard quant/*.h) $(B)/build-flags
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -fPIC -c $< -o $@

$(B)/libquant.so: $(QUANT_SRC:%.c=$(B)/pic/%.o)
	$(CC) -shared -o $@ $^ -lm -fopenmp $(EXTRA_LDFLAGS)

python-lib: $(B)/libquant.so
	cp $(B)/libquant.so python/qlab/libquant.so
	@echo "python-lib: $(B)/libquant.so, copied to python/qlab/ (pip install ./python carries it)"

# The pkg-config packages qlab links (fuzz/run.sh builds with them too): make -s print-pkgs
print-pkgs:
	@echo "$(PKGS)"

# Flags for building one file by hand (helpers, editors): make -s print-flags
print-flags:
	@echo "CFLAGS=$(CFLAGS_ALL)"
	@echo "LDLIBS=$(LDLIBS_ALL) $(CRIT_LIBS)"

# The figures README shows (committed in docs/img), each from a fresh run on the cpu
# backend: the three default-experiment figures, and the two scheme figures of the
# MiniLM runs (2.5 minutes on 2 cores: the dump, made if absent, 342 layer points,
# 38 model points).
readme-figures: deps
	@$(MAKE) -j$$(nproc) --no-print-directory $(B)/qlab
	set -e; t=$$(mktemp -d /tmp/qlab-readme.XXXXXX); trap 'rm -rf "$$t"' EXIT; \
	./$(B)/qlab run experiments/default.yaml -o $$t/default.h5 --no-progress; \
	./$(B)/qlab plot $$t/default.h5 -o $$t/default; \
	for f in error_vs_threshold error_by_granularity memory; do cp $$t/default/$$f.png docs/img/; done; \
	[ -e results/minilm-dump.h5 ] || ./$(B)/qlab dump minilm --text tests/data/sentences.txt -o results/minilm-dump.h5; \
	./$(B)/qlab run experiments/schemes-minilm-layers.yaml --backend cpu -o $$t/layers.h5 --no-progress; \
	./$(B)/qlab run experiments/schemes-minilm.yaml --backend cpu -o $$t/model.h5 --no-progress; \
	./$(B)/qlab plot $$t/layers.h5 -o $$t/layers; ./$(B)/qlab plot $$t/model.h5 -o $$t/model; \
	cp $$t/layers/error_vs_bits.png docs/img/schemes-minilm-dump-error-vs-bits.png; \
	cp $$t/model/error_vs_layer-int8.png docs/img/schemes-minilm-propagation.png
