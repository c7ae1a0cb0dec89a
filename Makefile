# One command sets everything up: every target below creates .venv when it is missing.
PYTHON_BOOT ?= $(shell command -v python3.11 || command -v python3)
VENV        ?= .venv
PY          := $(VENV)/bin/python
PROFILE     ?= quick
export PROFILE

# The LLMCompiler benchmark files: a local mirror replaces the network where one exists (CI has ../shared).
MIRROR := $(abspath ../shared/datasets)
ifneq ($(wildcard $(MIRROR)/llmcompiler),)
export WORKBENCH_DATASETS_MIRROR ?= $(MIRROR)
endif

# `make test` writes results, figures and artifacts here, never over the tracked data/ and figures/.
TEST_OUT ?= .test-out
TEST_ENV := WB_QUICK=1 WORKBENCH_DATA_DIR=$(abspath $(TEST_OUT))/data \
	WORKBENCH_FIGURES_DIR=$(abspath $(TEST_OUT))/figures WORKBENCH_ARTIFACTS_DIR=$(abspath $(TEST_OUT))/artifacts

UNAME_S := $(shell uname -s)
UNAME_M := $(shell uname -m)

.PHONY: setup gguf test test-fast reproduce rehearse lint format clean-notebooks clean bundle-planner

setup: $(VENV)/.installed

# torch==2.13.0 is installed first on Linux x86_64: on this project's machines that exact version is a local
# CPU wheel, while a looser requirement resolved from scratch pulls gigabytes of CUDA packages. Elsewhere, set
# TORCH_INDEX=https://download.pytorch.org/whl/cpu for the CPU build (PyPI's torch wheel for Linux is the CUDA
# one). pyproject keeps `torch>=2.4`, which the installed wheel satisfies, so the editable install adds nothing.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
ifeq ($(UNAME_S)-$(UNAME_M),Linux-x86_64)
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
endif
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

# The GGUF extra (.[gguf]: the gguf writer, llama-cpp-python and its server), which `make test` installs and
# `make gguf` installs for notebooks and `make reproduce` (without it, the GGUF rows of notebook 06 are skipped
# with a note). PyPI has no wheel of llama-cpp-python, so pip compiles it from source with cmake and a C++
# compiler (8 minutes on this project's 2-core machines, up to 20 elsewhere); the wheel is built once into
# $(WHEELHOUSE), outside the clone, and installed from there afterwards. Where it cannot be built, `make test`
# goes on and the GGUF tests skip, naming `make gguf`. The version is pyproject's pin (tests/test_environment.py).
# The build targets AVX2 rather than the building CPU (GGML_NATIVE=OFF): on a Xeon with AMX, a native build runs
# 4-bit (Q4_0) matmuls on AMX tiles and crashes (a segmentation fault) on this planner's small layers, and a
# wheel built natively on one machine may not run on another. The wheelhouse name says which build it holds.
WHEELHOUSE ?= $(HOME)/.cache/tinyagent-workbench/wheels-avx2
LLAMA_CPP_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
LLAMA_CPP_VERSION := 0.3.36
gguf: $(VENV)/.gguf-installed

$(VENV)/.gguf-installed: $(VENV)/.installed
	@ls $(WHEELHOUSE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once into $(WHEELHOUSE) (8-20 minutes)"; \
	  CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PY) -m pip wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python \
	    -w $(WHEELHOUSE) llama-cpp-python==$(LLAMA_CPP_VERSION); }
	$(PY) -m pip install -q --find-links $(WHEELHOUSE) -e '.[dev,gguf]'
	@touch $@

# Lint; then the unit tests (two xdist workers, one torch thread each) and, beside them at a lower CPU priority
# (nice 10), every notebook top to bottom in the smoke profile (tests/test_00_notebook_chain.py, a pytest run of its
# own whose log is printed at the end). The notebooks take the CPU time the unit tests leave idle and then finish
# alone, so the unit tests' timing checks run about as on a machine of their own.
test: setup
	@$(MAKE) --no-print-directory gguf || echo "warning: the GGUF extra did not install (see above): the GGUF \
	tests skip; \`make gguf\` tries again"
	rm -rf $(TEST_OUT) && mkdir -p $(TEST_OUT)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check workbench tests
	$(VENV)/bin/lint-imports
	$(TEST_ENV) nice -n 10 $(VENV)/bin/pytest -q --durations=10 --basetemp=$(abspath $(TEST_OUT))/notebooks-tmp \
		tests/test_00_notebook_chain.py > $(TEST_OUT)/notebooks.log 2>&1 & notebooks=$$!; \
	trap 'kill $$notebooks 2>/dev/null' INT TERM; \
	$(TEST_ENV) $(VENV)/bin/pytest -q -n 2 --dist loadfile --durations=10 --doctest-modules workbench tests \
		--ignore tests/test_00_notebook_chain.py; units=$$?; \
	wait $$notebooks; chain=$$?; echo "== the notebook chain (smoke profile), run beside the unit tests =="; \
	cat $(TEST_OUT)/notebooks.log; test $$units -eq 0 && test $$chain -eq 0

test-fast: setup
	WB_QUICK=1 $(VENV)/bin/pytest -q -m "not slow" tests

# Runs the notebooks in order (quick profile unless PROFILE= says otherwise); they write data/results and figures/.
reproduce: setup
	$(VENV)/bin/workbench reproduce --profile $(PROFILE)

# The paper profile's dress rehearsal: every paper-profile stage on stand-ins (tiny random models under the paper's
# hub ids in a local Hugging Face cache, the test server as GPT-4-Turbo and the other LLMs), offline. Writes under
# artifacts/paper-rehearsal/. `make test` runs it too (tests/test_rehearsal.py).
rehearse: setup
	@$(MAKE) --no-print-directory gguf || echo "warning: the GGUF extra did not install: the GGUF rows are skipped"
	$(VENV)/bin/workbench rehearse

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check workbench tests
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format workbench tests

# Rebuilds the planner bundled in workbench/pretrained/tinyagent-planner-1m/ (its README.md is the model card) by
# its seven-stage recipe (workbench.finetune.bundled.RECIPE), then copies it there with fresh checksums.
# Hours on 2 CPU cores; each stage's folder is kept in $(BUNDLE_OUT), and a finished stage is not run again.
BUNDLE_OUT ?= .bundle-build
bundle-planner: setup
	$(PY) -m workbench.finetune.bundled --out $(BUNDLE_OUT)

clean-notebooks: setup
	$(PY) -m workbench.notebooks strip notebooks/*.ipynb

clean:
	rm -rf $(VENV) build *.egg-info
