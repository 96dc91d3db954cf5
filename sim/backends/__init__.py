"""System-simulation backends of the scheduler RTL: Amaranth's simulator
(:mod:`.pysim`) and Verilator (:mod:`.verilator`), both on the contract of
:mod:`sim.contract`; :mod:`sim.system` dispatches between them."""
