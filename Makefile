# The README's commands. Each target installs the Debian data packages it needs, creates .venv and
# installs tfar when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tfar-installed

.PHONY: demo test bench data-packages clean

# Real Fashion-MNIST and real recorded speech from Debian's archive (apt-get as root, sudo otherwise);
# a quick dpkg check when they are there already.
data-packages:
	@sh .ci/install-data-packages

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[onnx,dev]"
	@touch $(STAMP)

demo: data-packages $(STAMP)
	$(PY) -m tfar.demo

# two workers, each taking whole test files (module fixtures built once): the suite fits CI's time on 2 cores
test: data-packages $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

bench: data-packages $(STAMP)
	$(PY) -m tfar bench --out bench/results/sampling_fast_vs_naive.json
	$(PY) bench/pixelcnn_pp_vs_tfp.py
	$(PY) bench/pixelcnn_pp_step_anatomy.py
	$(PY) bench/pixelcnn_pp_sampling_vs_tfp.py

clean:
	rm -rf $(VENV) build *.egg-info runs/demo
