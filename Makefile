# Sparse-DySta: thin front over the project's Python entry points.
# Every target creates/updates the local virtual environment (.venv) by itself.
# `make help` lists the targets.

PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.stamp-base
SYNTH_STAMP  := $(VENV)/.stamp-synth
BOARD_STAMP  := $(VENV)/.stamp-board
CLUSTER_STAMP := $(VENV)/.stamp-cluster
# `make traces` has its own environment: the extraction stack (mediapipe, torch, onnxruntime,
# numpy<2) is large and never needed by sim or test.
TVENV   ?= .venv-traces
TPY     := $(TVENV)/bin/python
TRACES_STAMP := $(TVENV)/.stamp-traces

# make sim parameters (empty = scenario defaults)
WORKLOAD ?= arvr
SCHED    ?=
POLICY   ?=
RATE     ?=
LOAD     ?=# fraction of the accelerator's capacity, instead of RATE (sim and sweep)
SLO      ?=
N        ?=
SEED     ?=
PROTOCOL ?= fair# comparison protocol: fair | paper (docs/scheduling.md)
BACKEND  ?= verilator# the -hw rows: verilator | pysim | reference (models only)
OUT      ?= out
VCD      ?=
WINDOW   ?=# timeline window in ms, START:END
# make sweep parameters (besides the ones above; every axis takes a comma list)
SEEDS    ?=# e.g. 0-4 (default: SEED, else the scenario's seed)
GRID     ?=# TOML grid file; command-line axes override it
CLUSTER  ?=# Dask scheduler address, local[:N], or slurm|pbs|sge|lsf|htcondor (extra 'cluster')
WORKERS  ?=# local worker processes (default: all cores)
# make sim / verilog parameters (empty = the defaults of sw_scheduler/formats.py: 32 slots, 16 lanes)
SLOTS    ?=
LANES    ?=
# synthesis configurations: quick (one of each) | default (scheduler per policy x slots 16/64/256, datapath 16/32 lanes, top) | full (+ tops 64x32, 256x32)
SYNTH_SET ?= default
# make bitstream / formal parameters
BOARD    ?= ulx3s-85f
BAUD     ?= 115200
FORMAL_ARGS ?=
# pytest extra arguments, e.g. make test ARGS="-k scheduler"
ARGS     ?=
JOBS     ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv sim sweep evaluation test bench traces verilog synth formal bitstream lint clean
# a knob the user set (command line or environment), not a Makefile default
given = $(filter command line environment,$(origin $(1)))

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'
	@echo "  sim knobs: WORKLOAD=arvr|mobile|datacenter|assistant|path.toml SCHED= RATE= SLO= N= SEED= BACKEND= SLOTS= LANES= PROTOCOL=fair|paper POLICY= WINDOW= OUT= VCD=1"
	@echo "  sim knobs: LOAD=0.5,0.9 (fraction of capacity) instead of RATE="
	@echo "  sweep knobs: WORKLOAD= SCHED= LOAD=|RATE= SLO= SEEDS=0-4 N= PROTOCOL= SLOTS= LANES= BACKEND= GRID= CLUSTER= WORKERS= OUT="
	@echo "  hw knobs:  SLOTS=32 LANES=16 SYNTH_SET=quick|default|full BOARD=ulx3s-85f BAUD=115200"
	@echo "  formal:    FORMAL_ARGS='--quick' | '--only scheduler --depth 40'"
	@echo "  test knobs: ARGS='-k scheduler' (pytest arguments) JOBS=2 (pytest-xdist workers)"
	@echo "  schedulers (SCHED=, comma-separated; default all):"
	@$(PY) -c "from sw_scheduler.reference import policy_names; print('    ' + ', '.join(policy_names()))" 2>/dev/null || echo "    (run make venv first)"
	@echo "  outside policies: POLICY=module:Class or POLICY=file.py:Class"

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

$(CLUSTER_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,cluster]'
	touch $@

$(TRACES_STAMP): pyproject.toml
	test -x $(TPY) || $(PYTHON) -m venv $(TVENV)
	$(TPY) -m pip install -q --upgrade pip
	$(TPY) -m pip install -q -e '.[traces]'
	touch $@

venv: $(STAMP)  ## create the virtual environment (.venv) with the test tools

sim: $(STAMP)  ## run a scenario: WORKLOAD=arvr [SCHED= RATE= SLO= N= SEED= BACKEND= SLOTS= LANES= OUT= VCD=1]
	$(PY) -m sim run --workload $(WORKLOAD) --out $(OUT) \
	  $(if $(SCHED),--sched $(SCHED)) $(if $(RATE),--rate $(RATE)) $(if $(LOAD),--load $(LOAD)) \
	  $(if $(SLO),--slo $(SLO)) \
	  $(if $(N),--n $(N)) $(if $(SEED),--seed $(SEED)) $(if $(BACKEND),--backend $(BACKEND)) \
	  $(if $(SLOTS),--slots $(SLOTS)) $(if $(LANES),--lanes $(LANES)) \
	  --protocol $(PROTOCOL) $(if $(VCD),--vcd) \
	  $(foreach p,$(POLICY),--policy $(p)) $(if $(WINDOW),--window $(WINDOW))

sweep: $(STAMP) $(if $(filter slurm pbs sge lsf htcondor,$(CLUSTER)),$(CLUSTER_STAMP))  ## grid of runs, resumable, CIs over seeds: LOAD=0.5,0.9 SLO=5,10 SEEDS=0-4 [CLUSTER=]
	$(PY) -m sim sweep --out $(if $(call given,OUT),$(OUT),out/sweep) $(if $(GRID),--grid $(GRID)) \
	  $(if $(call given,WORKLOAD),--workload $(WORKLOAD),$(if $(GRID),,--workload $(WORKLOAD))) \
	  $(if $(SCHED),--sched $(SCHED)) $(if $(RATE),--rate $(RATE)) $(if $(LOAD),--load $(LOAD)) \
	  $(if $(SLO),--slo $(SLO)) $(if $(SEEDS),--seeds $(SEEDS),$(if $(SEED),--seeds $(SEED))) \
	  $(if $(N),--n $(N)) $(if $(PROTOCOL),--protocol $(PROTOCOL)) \
	  $(if $(call given,SLOTS),--slots $(SLOTS)) $(if $(call given,LANES),--lanes $(LANES)) \
	  $(if $(call given,BACKEND),--backend $(BACKEND)) $(if $(CLUSTER),--cluster $(CLUSTER)) \
	  $(if $(WORKERS),--jobs $(WORKERS))

test: $(STAMP)  ## run every test (unit, Amaranth simulation, cocotb on exported Verilog)
	PYTHONWARNINGS=error $(PY) -m pytest -n $(JOBS) -q $(ARGS)

bench: $(STAMP)  ## benchmarks; results in out/bench/*.json
	$(PY) -m sim.bench --out $(OUT)/bench

evaluation: $(STAMP)  ## regenerate docs/evaluation.md and its figures (all scenarios, both protocols; ~minutes)
	$(PY) -m sim.evaluation --out $(OUT)/evaluation

traces: $(TRACES_STAMP)  ## re-extract the real-model traces into traces/data (own venv .venv-traces)
	OMP_NUM_THREADS=1 $(TPY) -m traces.extract
	$(TPY) -m sim.trace_report

verilog: $(STAMP)  ## export Verilog to build/verilog/ (SLOTS= LANES=)
	$(PY) -m rtl.export $(if $(SLOTS),--slots $(SLOTS)) $(if $(LANES),--lanes $(LANES)) --out build/verilog

synth: $(SYNTH_STAMP)  ## FPGA synthesis table (yosys Xilinx 7 / ECP5, nextpnr Fmax, 3 seeds) in out/synth/ and docs/fpga.md (SYNTH_SET=)
	$(PY) -m rtl.synth --out out/synth --set $(SYNTH_SET) --doc docs/fpga.md

formal: $(STAMP)  ## bounded model checks + covers (SymbiYosys, yices) in out/formal/ (FORMAL_ARGS=)
	$(PY) -m rtl.formal --out $(OUT)/formal $(FORMAL_ARGS)

bitstream: $(BOARD_STAMP)  ## FPGA bitstream for BOARD=ulx3s-85f (UART host interface) in build/board/
	$(PY) -m rtl.board --board $(BOARD) $(if $(SLOTS),--slots $(SLOTS)) \
	  $(if $(LANES),--lanes $(LANES)) --baud $(BAUD) --out build/board

lint: $(STAMP)  ## ruff
	$(PY) -m ruff check .

clean:  ## remove outputs and build products (keeps .venv)
	rm -rf out build .pytest_cache
