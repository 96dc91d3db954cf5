"""The layering rule of docs/design.md: traces <- sw_scheduler <- rtl <- sim.

Every import of a first-party package (module level and function local, relative ones
resolved) goes to the same package or one below it, and the module graph has no cycle.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("traces", "sw_scheduler", "rtl", "sim")


def _modules():
    for pkg in ORDER:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield name, p


def _imports(name: str, path: Path):
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module
            yield mod
            yield from (f"{mod}.{a.name}" for a in node.names)


def _graph():
    mods = dict(_modules())
    graph = {}
    for name, path in mods.items():
        deps = set()
        for imp in _imports(name, path):
            if imp.split(".")[0] in ORDER:
                target = imp
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def test_no_upward_import():
    bad = [(a, b) for a, deps in _graph().items() for b in deps
           if ORDER.index(b.split(".")[0]) > ORDER.index(a.split(".")[0])]
    assert not bad, f"imports against the layering rule: {bad}"


def test_no_import_cycle():
    graph, state, cycle = _graph(), {}, []

    def visit(n, stack):
        state[n] = 1
        for d in sorted(graph.get(n, ())):
            if state.get(d) == 1:
                cycle.append(stack[stack.index(d):] + [d] if d in stack else [n, d])
            elif d not in state:
                visit(d, stack + [d])
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [n])
    assert not cycle, f"import cycles: {cycle[:3]}"


def test_rule_catches_a_violation(tmp_path, monkeypatch):
    """The checker itself fails on an upward import (it can fail)."""
    (tmp_path / "traces").mkdir()
    for pkg in ORDER[1:]:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "traces" / "__init__.py").write_text("")
    (tmp_path / "traces" / "bad.py").write_text("def f():\n    from sim import cli\n")
    (tmp_path / "sim" / "cli.py").write_text("")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    g = _graph()
    assert "sim.cli" in g["traces.bad"]
