"""The rooms of the package and their arrows: each room imports only the rooms below it.

cli → demo → publish → pipeline → sources · warehouse → reference · secrecy → model → the
base modules (errors, report, console, resources). ``secrecy`` imports nothing of prst;
``testing`` (sample builders) is imported by no room; no module-level import cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "prst_etl"
RANK = {
    "errors": 0, "report": 0, "resources": 0, "console": 0, "_lazy": 0,
    "model": 1, "reference": 2, "secrecy": 2, "sources": 3, "warehouse": 3, "contracts": 4,
    "pipeline": 4, "publish": 5, "demo": 6, "cli": 7, "__main__": 8, "__init__": 8,
}  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG).with_suffix("").parts
        name = ".".join(("prst_etl", *parts)).removesuffix(".__init__")
        out[name] = f
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # module level, including inside ``if``/``try`` but not functions (lazy imports)
        nodes = [n for stmt in tree.body if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(stmt)]
    out = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prst_etl"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("prst_etl"))
    if any(isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test) for n in tree.body):
        for n in tree.body:
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                for sub in ast.walk(n):
                    if isinstance(sub, ast.ImportFrom) and sub.module:
                        out.discard(sub.module)
                        out.difference_update(f"{sub.module}.{a.name}" for a in sub.names)
    return out


def test_every_room_has_a_rank() -> None:
    rooms = {_room(m) for m in _modules()} - {"testing"}
    assert rooms <= set(RANK), sorted(rooms - set(RANK))


def test_arrows_only_point_down() -> None:
    mods = _modules()
    wrong = []
    for mod, path in mods.items():
        room = _room(mod)
        for imp in _imports(path, top_level_only=False):
            target = _room(imp)
            if imp == "prst_etl" or target == room or target not in RANK:
                continue
            if target == "testing" and room != "testing":
                wrong.append(f"{mod} imports {imp} (sample builders are for tests only)")
            elif room == "secrecy":
                wrong.append(f"{mod} imports {imp} (the engine imports nothing of prst)")
            elif room != "testing" and RANK[target] >= RANK[room] and not (RANK[room] == 0 and RANK[target] == 0):
                wrong.append(f"{mod} ({room}) imports {imp} ({target})")
    assert wrong == []


def test_no_import_cycle_at_module_level() -> None:
    mods = _modules()
    graph = {m: {i for i in _imports(p, top_level_only=True) if i in mods and i != m} for m, p in mods.items()}
    # a package imports its parent implicitly: not an edge of ours
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == []


def test_the_public_api_is_importable_by_name() -> None:
    import prst_etl

    for name in ("ingest", "aggregate", "export", "diff", "open_warehouse", "Source", "register_source"):
        assert callable(getattr(prst_etl, name)), name
    assert prst_etl.ingest.__module__ == "prst_etl.pipeline.ingest"


def test_listing_commands_do_not_load_polars() -> None:
    """``prst sources`` and ``prst --help`` list plugins without reading a table: polars (and
    typer's rich help module, for a command that shows no help) stay unloaded."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.argv = ['prst', 'sources']\n"
        "from prst_etl.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "pl = sys.modules.get('polars')\n"
        "print(type(pl).__name__ if pl is not None else 'absent', 'typer.rich_utils' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**__import__("os").environ, "PRST_NO_PLUGINS": "1"})  # fmt: skip
    assert res.returncode == 0, res.stderr
    last = res.stdout.strip().splitlines()[-1]
    assert last.split() in (["_LazyModule", "False"], ["absent", "False"]), last
