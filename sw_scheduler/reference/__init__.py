"""Reference (float) scheduler models: an event-driven layer-granularity simulator (scalar,
vector and fast engines, identical schedules) and the policies FCFS, SJF (ties by deadline;
"sjf-fcfs": by arrival), EDF, PREMA, Planaria, SDRM3 (with "-sparse" variants) and Dysta."""

from .core import ActiveRequest, Completion, ConservationError, Policy, simulate
from .policies import POLICIES, load_policy, make_policy, policy_names, register_policy

__all__ = [
           "POLICIES",
           "ActiveRequest",
           "Completion",
           "ConservationError",
           "Policy",
           "load_policy",
           "make_policy",
           "policy_names",
           "register_policy",
           "simulate",
]
