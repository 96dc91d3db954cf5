"""Comparison protocols: how baselines, deadlines and request samples are set up.

A protocol fixes the rules under which schedulers are compared; it is chosen per run
(``--protocol``, ``PROTOCOL=``) and recorded in ``results.json``.

* ``fair`` (default): every scheduler sees the static *pattern-aware* tables (per model and
  sparsity pattern); the SLO target of a request is its variant's mean isolated latency
  (``deadline = arrival + slo * iso[m, p]``); static tables come from the profiling split of
  each variant's samples and requests draw only held-out samples.
* ``paper``: the rules of the paper's released artifact (SamsungLabs/Sparse-Multi-DNN-
  Scheduling, commit b9f1913): the baselines (every non-Dysta policy) estimate with the
  model's mean over all its patterns (pattern-unaware); the SLO target is the model's mean
  isolated latency over its patterns (``deadline = arrival + slo * mean_p iso[m, p]``);
  the static tables average *all* samples while requests draw only from the first
  ``PAPER_SAMPLES`` samples of each variant. The artifact's scoring slips (PREMA re-adding
  a request's whole wait at every decision, Planaria's -1 "unset" marker, SDRM3's negative
  urgency for late requests) are bugs by the policies' own definitions and are not copied.

``docs/scheduling.md`` lists the exact differences.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPER_SAMPLES", "PROTOCOLS", "Protocol", "get_protocol"]

PAPER_SAMPLES = 7       # the artifact draws request samples 0..6 of each variant


@dataclass(frozen=True)
class Protocol:
    """One comparison protocol (module docstring)."""

    name: str
    baselines_pattern_aware: bool   # non-Dysta policies see per-pattern tables
    slo_per_variant: bool           # SLO target: variant's iso (else the model's mean)
    split_samples: bool             # profile/held-out split (else: profile on all,
    #                                 requests from the first PAPER_SAMPLES samples)

    def uses_pattern_tables(self, scheduler: str) -> bool:
        """Whether ``scheduler`` gets the pattern-aware tables under this protocol."""
        return self.baselines_pattern_aware or scheduler.startswith("dysta")


PROTOCOLS = {
    "fair": Protocol("fair", baselines_pattern_aware=True, slo_per_variant=True,
                     split_samples=True),
    "paper": Protocol("paper", baselines_pattern_aware=False, slo_per_variant=False,
                      split_samples=False),
}


def get_protocol(name: str) -> Protocol:
    """The protocol called ``name`` (ValueError listing the known ones)."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})") from None
