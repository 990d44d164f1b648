# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY)"; exit 1; }
	@# The second rv32 cross compiler (gcc, selectable per target) is not on PyPI: Debian has it.
	@command -v riscv64-unknown-elf-gcc >/dev/null 2>&1 || { \
	  echo "installing Debian's gcc-riscv64-unknown-elf (the gcc rv32 toolchain; zig comes from PyPI)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq gcc-riscv64-unknown-elf >/dev/null; }
	@# LiteX's litex_sim (simulator/litex_sim.py) builds its sim modules against libevent and json-c
	@# (and zlib): C libraries, not on PyPI, so Debian's -dev packages.
	@dpkg -s libevent-dev libjson-c-dev zlib1g-dev >/dev/null 2>&1 || { \
	  echo "installing Debian's libevent-dev libjson-c-dev zlib1g-dev (for LiteX's litex_sim)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libevent-dev libjson-c-dev zlib1g-dev >/dev/null; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m isaforge.demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 tests

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
