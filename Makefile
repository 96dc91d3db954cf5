# Sparse-DySta: thin front over the project's Python entry points.
# Every target creates/updates the local virtual environment (.venv) by itself.
# `make help` lists the targets.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.stamp-base
SYNTH_STAMP  := $(VENV)/.stamp-synth
BOARD_STAMP  := $(VENV)/.stamp-board
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
BACKEND  ?= verilator# cycle-accurate dysta-hw: verilator | pysim | reference (models only)
OUT      ?= out
VCD      ?=
# make verilog / synth parameters
SLOTS    ?= 16
LANES    ?= 16
# synthesis configurations: quick | default (slots 16/64/256, lanes 16/32, tops) | full
SYNTH_SET ?= default
# make bitstream / formal parameters
BOARD    ?= ulx3s-85f
BAUD     ?= 115200
FORMAL_ARGS ?=
# pytest extra arguments, e.g. make test ARGS="-k scheduler"
ARGS     ?=
JOBS     ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv sim test bench traces verilog synth formal bitstream lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "  sim knobs: WORKLOAD=arvr|mobile|datacenter|path.toml SCHED= RATE= SLO= N= SEED= BACKEND= SLOTS= LANES= OUT= VCD=1"
	@echo "  hw knobs:  SLOTS=16 LANES=16 SYNTH_SET=quick|default|full BOARD=ulx3s-85f BAUD=115200"
	@echo "  formal:    FORMAL_ARGS='--quick' | '--only scheduler --depth 40'"

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

$(SYNTH_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,synth]'
	touch $@

$(BOARD_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,board]'
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
	  --slots $(SLOTS) --lanes $(LANES) $(if $(VCD),--vcd)

test: $(STAMP)  ## run every test (unit, Amaranth simulation, cocotb on exported Verilog)
	PYTHONWARNINGS=error $(PY) -m pytest -n $(JOBS) -q $(ARGS)

bench: $(STAMP)  ## benchmarks; results in out/bench/*.json
	$(PY) -m sim.bench --out $(OUT)/bench

traces: $(TRACES_STAMP)  ## re-extract the real-model traces into traces/data (own venv .venv-traces)
	OMP_NUM_THREADS=1 $(TPY) -m traces.extract
	$(TPY) -m sim.trace_report

verilog: $(STAMP)  ## export Verilog to build/verilog/ (SLOTS= LANES=)
	$(PY) -m rtl.export --slots $(SLOTS) --lanes $(LANES) --out build/verilog

synth: $(SYNTH_STAMP)  ## FPGA synthesis reports (yosys Xilinx 7 / ECP5, nextpnr Fmax) in out/synth/ (SYNTH_SET=)
	$(PY) -m rtl.synth --out out/synth --set $(SYNTH_SET)

formal: $(STAMP)  ## bounded model checks + covers (SymbiYosys, yices) in out/formal/ (FORMAL_ARGS=)
	$(PY) -m rtl.formal --out $(OUT)/formal $(FORMAL_ARGS)

bitstream: $(BOARD_STAMP)  ## FPGA bitstream for BOARD=ulx3s-85f (UART host interface) in build/board/
	$(PY) -m rtl.board --board $(BOARD) --slots $(SLOTS) --lanes $(LANES) --baud $(BAUD) \
	  --out build/board

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .

clean:  ## remove outputs and build products (keeps .venv)
	rm -rf out build .pytest_cache
