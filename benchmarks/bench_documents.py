"""Benchmark of the publications on the demo warehouse (not a test).

Targets (issue 13): one portrait, HTML + PDF, under 5 s; the whole site of the demo warehouse
(1 région, 13 départements, 27 zones d'emploi, 17 SPSTI perimeters, with every PDF) under 2 minutes
on 2 cores; charts shared between portraits (the maps) rendered once.

    python benchmarks/bench_documents.py [WAREHOUSE]      # default: ./warehouse, built by « prst demo »

Each step runs in a child process (``prst`` itself), so the times include Python's start-up and
imports, as a user sees them. CPU time (user + system, children included) is given beside the
wall time: on a machine shared with other work, CPU / 2 is what 2 idle cores would take.
The first read of a state computes the secrecy-applied frames and caches them in the warehouse
(``publish/``); the « cold » portrait measures that, the « warm » one what every later document pays.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(args: list[str]) -> tuple[float, float, str]:
    """Wall time, CPU time (children) and stdout of ``prst ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "prst_etl", *args], capture_output=True, text=True,
                       env=dict(os.environ, PRST_NO_PROGRESS="1"))  # fmt: skip
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"failed: prst {' '.join(args)}\n{p.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout


def main() -> None:
    wh = Path(sys.argv[1] if len(sys.argv) > 1 else "warehouse")
    if not (wh / "prst.duckdb").exists():
        raise SystemExit(f"No warehouse in {wh}: run « prst demo --warehouse {wh} » first.")
    out = Path(tempfile.mkdtemp(prefix="prst-bench-"))
    load = os.getloadavg()[0]
    print(f"warehouse {wh}; {os.cpu_count()} cores; load average before: {load:.1f}")

    shutil.rmtree(wh / "publish", ignore_errors=True)
    w, c, _ = run(["portrait", "-w", str(wh), "--level", "zone-emploi", "--code", "7612", "-o", str(out / "p"), "--json"])
    print(f"portrait ZE 7612, HTML + PDF, cold (computes the state's frames): {w:5.1f} s wall, {c:5.1f} s CPU")
    # warm: another territory of the same state (its maps come from the state's cache, its charts are its own)
    w, c, stdout = run(["portrait", "-w", str(wh), "--level", "zone-emploi", "--code", "7602", "-o", str(out / "p"), "--json"])
    files = [Path(f) for f in json.loads(stdout)["files"]]
    sizes = ", ".join(f"{f.suffix[1:]} {f.stat().st_size / 1024:.0f} KiB" for f in files)
    print(f"portrait ZE 7602, HTML + PDF, warm: {w:5.1f} s wall, {c:5.1f} s CPU  (target < 5 s)  [{sizes}]")

    w, c, stdout = run(["site", "-w", str(wh), "-o", str(out / "site"), "--json"])
    res = json.loads(stdout)
    site = out / "site"
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    n_pdf = len(list(site.rglob("*.pdf")))
    print(f"site with every PDF: {w:5.1f} s wall, {c:5.1f} s CPU, CPU/2 = {c / 2:5.1f} s  (target < 120 s on 2 cores)")
    print(f"  {res['stats'].get('portraits')} portraits, {len(res['files'])} files, {n_pdf} PDF, {total / 1024**2:.1f} MiB; "
          f"charts rendered {res['stats'].get('rendered')} times in the main process, reused {res['stats'].get('reused')} "
          "(the maps are rendered once and handed to the workers)")  # fmt: skip
    for name in ("index.html", "chiffres-cles.pdf", "tableau-de-bord.pdf", "portraits/zone-emploi/7612.html", "portraits/zone-emploi/7612.pdf"):
        p = site / name
        if p.exists():
            print(f"  {name}: {p.stat().st_size / 1024:.0f} KiB")
    w, c, _ = run(["site", "-w", str(wh), "-o", str(out / "site-html"), "--no-pdf", "--json"])
    print(f"site, HTML only (what « prst demo » adds): {w:5.1f} s wall, {c:5.1f} s CPU")
    print(f"load average after: {os.getloadavg()[0]:.1f}; files in {out}")


if __name__ == "__main__":
    main()
