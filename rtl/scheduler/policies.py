"""Hardware scheduling policies, RTL half of the policy seam.

``SCORE_UNITS[name]`` builds the score unit of policy ``name`` (the key of its bit-exact
score in :data:`sw_scheduler.hw_policies.HW_POLICIES`); every unit has
:func:`rtl.scheduler.score.score_signature` and ``SCORE_LATENCY`` stages. The scheduler
instantiates ``SCORE_UNITS[config.policy]``. Adding a policy: its bit-exact score there,
its unit here, its float reference in :mod:`sw_scheduler.reference`, tests.
"""

from __future__ import annotations

from .score import DystaScoreUnit

__all__ = ["SCORE_UNITS", "score_unit"]

# policy name -> factory(config, payload_shape) -> wiring.Component with score_signature
SCORE_UNITS = {
    "dysta": DystaScoreUnit,
}


def score_unit(config, payload_shape):
    """The score unit of ``config.policy``."""
    return SCORE_UNITS[config.policy](config, payload_shape)
