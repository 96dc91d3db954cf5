# Sparse-DySta: thin front over the project's Python entry points.
# Every target creates/updates the local virtual environment (.venv) by itself.
# `make help` lists the targets.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.stamp-base
SYNTH_STAMP  := $(VENV)/.stamp-synth
# `make traces` has its own environment: the extraction stack (mediapipe, torch, onnxruntime,
# numpy<2) is large and never needed by sim or test.
TVENV   ?= .venv-traces
TPY     := $(TVENV)/bin/python
TRACES_STAMP := $(TVENV)/.stamp-traces

# make sim parameters (empty = scenario defaults)
WORKLOAD ?= arvr
SCHED    ?=
RATE     ?=
SLO      ?=
N        ?=
SEED     ?=
BACKEND  ?= verilator# the -hw rows: verilator | pysim | reference (models only)
OUT      ?= out
VCD      ?=
# make sim / verilog parameters (empty = the defaults of sw_scheduler/formats.py: 32 slots, 16 lanes)
SLOTS    ?=
LANES    ?=
# synthesis configurations: quick (one of each) | default (scheduler per policy x slots 16/64/256, datapath 16/32 lanes, top) | full (+ tops 64x32, 256x32)
SYNTH_SET ?= default
# pytest extra arguments, e.g. make test ARGS="-k scheduler"
ARGS     ?=
JOBS     ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv sim test bench traces verilog synth lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "  sim knobs: WORKLOAD=arvr|mobile|datacenter|path.toml SCHED= RATE= SLO= N= SEED= BACKEND= SLOTS= LANES= OUT= VCD=1"
	@echo "  hw knobs:  SLOTS=32 LANES=16 SYNTH_SET=quick|default|full"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(SYNTH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,synth]'
	touch $@

$(TRACES_STAMP): pyproject.toml
	test -x $(TPY) || $(PYTHON) -m venv $(TVENV)
	$(TPY) -m pip install -q --upgrade pip
	$(TPY) -m pip install -q -e '.[traces]'
	touch $@

venv: $(STAMP)  ## create the virtual environment (.venv) with the test tools

sim: $(STAMP)  ## run a scenario: WORKLOAD=arvr [SCHED= RATE= SLO= N= SEED= BACKEND= SLOTS= LANES= OUT= VCD=1]
	$(PY) -m sim run --workload $(WORKLOAD) --out $(OUT) \
	  $(if $(SCHED),--sched $(SCHED)) $(if $(RATE),--rate $(RATE)) $(if $(SLO),--slo $(SLO)) \
	  $(if $(N),--n $(N)) $(if $(SEED),--seed $(SEED)) $(if $(BACKEND),--backend $(BACKEND)) \
	  $(if $(SLOTS),--slots $(SLOTS)) $(if $(LANES),--lanes $(LANES)) $(if $(VCD),--vcd)

test: $(STAMP)  ## run every test (unit, Amaranth simulation, cocotb on exported Verilog)
	PYTHONWARNINGS=error $(PY) -m pytest -n $(JOBS) -q $(ARGS)

bench: $(STAMP)  ## benchmarks; results in out/bench/*.json
	$(PY) -m sim.bench --out $(OUT)/bench

traces: $(TRACES_STAMP)  ## re-extract the real-model traces into traces/data (own venv .venv-traces)
	OMP_NUM_THREADS=1 $(TPY) -m traces.extract
	$(TPY) -m sim.trace_report

verilog: $(STAMP)  ## export Verilog to build/verilog/ (SLOTS= LANES=)
	$(PY) -m rtl.export $(if $(SLOTS),--slots $(SLOTS)) $(if $(LANES),--lanes $(LANES)) --out build/verilog

synth: $(SYNTH_STAMP)  ## FPGA synthesis table (yosys Xilinx 7 / ECP5, nextpnr Fmax, 3 seeds) in out/synth/ and docs/fpga.md (SYNTH_SET=)
	$(PY) -m rtl.synth --out out/synth --set $(SYNTH_SET) --doc docs/fpga.md

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .

clean:  ## remove outputs and build products (keeps .venv)
	rm -rf out build .pytest_cache
