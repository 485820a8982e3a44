# Two commands do everything (see README "Quick start"):
#   make demo   set up .venv and colorize the bundled black-and-white samples into out/
#   make test   set up .venv with dev tools and run the lint + the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned to the CPU wheel: an open range would pull a multi-GB CUDA build
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev,onnx,tensorboard]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/polychromify colorize samples/bw -o out/colorized

test: $(VENV)/.dev
	# the browser test drives Debian's Chromium (never a downloaded browser)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	$(BIN)/ruff check src tests bench scripts experiments
	$(BIN)/pytest

clean:
	rm -rf out .pytest_cache
