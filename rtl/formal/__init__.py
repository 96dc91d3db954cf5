"""Formal properties (Amaranth ``Assert``/``Assume``/``Cover``) of the scheduler's control,
task table and argmin, in wrapper specs that instantiate the unchanged design; checked by
SymbiYosys through :mod:`rtl.formal.run` (``make formal``; a short run in ``make test``).
"""
