"""One seeded scheduler test case, rebuilt identically by the pytest launcher (to export
the RTL) and by the cocotb module (to drive it and run the bit-exact model).

Stimulus comes from the scheduler's own tests: ``random_images`` and ``make_requests`` /
``make_plan`` of :mod:`tests.support.stimulus`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from rtl.scheduler.harness import random_images
from rtl.scheduler.layouts import SchedulerConfig
from sw_scheduler.formats import BETA, LutLayout, inv_field

from .stimulus import make_plan, make_requests


@dataclass(frozen=True)
class Case:
    seed: int
    slots: int
    predictor: str = "mean"
    lut: tuple = (1, 2, 4)
    beta: float = 0.5
    counter_init: int = 0
    n_requests: int = 40
    load_luts: bool = False      # build with empty LUTs, write them through lut_w first
    policy: str = "dysta"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> Case:
        d = json.loads(text)
        d["lut"] = tuple(d["lut"])
        return cls(**d)

    @property
    def name(self) -> str:
        return (f"{self.policy}_s{self.slots}_{self.predictor}_seed{self.seed}"
                + ("_lutload" if self.load_luts else ""))

    def build(self):
        """``(config, images, requests, plan)``, deterministic in the fields."""
        rng = np.random.default_rng(self.seed)
        img = random_images(LutLayout(*self.lut), rng, n_layers=(1, 6), kinv_max=1 << 14,
                            inv_field=inv_field(self.predictor))
        cfg = SchedulerConfig.for_images(img, num_slots=self.slots, predictor=self.predictor,
                                         beta=BETA.quantize(self.beta)[0],
                                         counter_init=self.counter_init,
                                         policy=self.policy, kappa=2000)
        first = 4 + (img.layout.variant_depth + img.layout.layer_depth if self.load_luts
                     else 0)
        reqs = make_requests(rng, cfg, self.n_requests, gap=(0, 250), slo=(-2000, 150_000),
                             first=first)
        plan = make_plan(rng, 40 * self.n_requests)
        return cfg, img, reqs, plan
