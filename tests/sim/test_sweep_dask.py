"""The same sweep on a real dask.distributed LocalCluster equals the local run point for point."""

import json
import os
import sys
import types

import pytest
from distributed import LocalCluster

from sim import cli, sweep_exec

ARGS = ["--workload", "fixture_mix", "--n", "60", "--sched", "fcfs,sjf,dysta",
        "--load", "0.5,0.9", "--slo", "4,8", "--seeds", "0-1", "--no-plots"]


def _points(d):
    return {p.name: json.loads(p.read_text()) for p in (d / "points").glob("*.json")}


def test_dask_local_cluster_equals_local_run(tmp_path, capsys):
    assert cli.main(["sweep", "--out", str(tmp_path / "local"), "--jobs", "1", *ARGS]) == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert cli.main(["sweep", "--out", str(tmp_path / "dask"), "--cluster", addr,
                         *ARGS]) == 0
        assert f"on Dask cluster {addr}" in capsys.readouterr().err
        # a rerun against the cluster computes nothing
        assert cli.main(["sweep", "--out", str(tmp_path / "dask"), "--cluster", addr,
                         *ARGS]) == 0
        assert "up to date" in capsys.readouterr().out
    a, b = _points(tmp_path / "local"), _points(tmp_path / "dask")
    assert a.keys() == b.keys() and len(a) == 24
    for k in a:
        assert b[k]["metrics"] == a[k]["metrics"], k
        assert b[k]["params"] == a[k]["params"] and b[k]["rate"] == a[k]["rate"]
    assert os.getpid() not in {d["provenance"]["pid"] for d in b.values()}   # on the workers
    assert (tmp_path / "local" / "summary.csv").read_text() == \
        (tmp_path / "dask" / "summary.csv").read_text()


def test_worker_with_other_code_refuses(tmp_path, capsys, monkeypatch):
    """A task from a client with other code fails with one line; the sweep exits 1."""
    monkeypatch.setattr(sweep_exec, "code_version", lambda: "0" * 20)
    from sim import sweep as sw
    monkeypatch.setattr(sw, "code_version", lambda: "1" * 20)
    assert cli.main(["sweep", "--out", str(tmp_path), "--jobs", "1", "--workload",
                     "fixture_small", "--n", "10", "--sched", "fcfs", "--seeds", "0",
                     "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert "runs other code (version 00000000000000000000, sweep 11111111111111111111)" in err


def test_jobqueue_cluster_spec(monkeypatch):
    """CLUSTER=slurm builds dask_jobqueue.SLURMCluster from the grid's [cluster] options."""
    made = {}

    class FakeSlurm:
        def __init__(self, **kw):
            made["kw"] = kw

        def scale(self, jobs):
            made["jobs"] = jobs

    monkeypatch.setitem(sys.modules, "dask_jobqueue",
                        types.SimpleNamespace(SLURMCluster=FakeSlurm))
    target, owned = sweep_exec._open_cluster("slurm", {"cores": 2, "memory": "4GB",
                                                       "jobs": 3})
    assert isinstance(target, FakeSlurm) and owned is target
    assert made == {"kw": {"cores": 2, "memory": "4GB"}, "jobs": 3}
    assert sweep_exec._open_cluster("tcp://h:8786", {}) == ("tcp://h:8786", None)
    monkeypatch.setitem(sys.modules, "dask_jobqueue", None)
    with pytest.raises(RuntimeError, match="needs dask-jobqueue"):
        sweep_exec._open_cluster("pbs", {})
