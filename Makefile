# The README's commands. Each target creates .venv and installs tfar when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfar-installed

.PHONY: demo test bench clean

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[onnx,dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m tfar.demo

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m tfar bench --out bench/results/sampling_fast_vs_naive.json
	$(PY) bench/pixelcnn_pp_vs_tfp.py
	$(PY) bench/pixelcnn_pp_step_anatomy.py
	$(PY) bench/pixelcnn_pp_sampling_vs_tfp.py

clean:
	rm -rf $(VENV) build *.egg-info runs/demo
