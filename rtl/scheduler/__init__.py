"""Dysta dynamic scheduler RTL (see docs/scheduler_rtl.md)."""

from .layouts import SchedulerConfig
from .top import DystaScheduler

__all__ = ["DystaScheduler", "SchedulerConfig"]
