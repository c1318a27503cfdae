"""Benchmark: the first secret export of a 200 000-row commune-level Carsat workbook, side by side
with the same export ``--no-secret``.

The workbook is the one of ``bench_ingest.py`` (built once, cached in ``benchmarks/out/``). It
is ingested and aggregated once into a warehouse template; each round copies the template into a
fresh folder (no cached pattern) and runs, as a fresh process:

- ``prst export --level region --secret`` (computes the pattern of every level, then writes);
- ``prst export --level region --no-secret``.

Reports median wall time, CPU time and peak memory (max RSS) of each, and their ratios.
Target (issue #12): the secret export under 30 s and under 2 GB peak on 2 cores.

    python benchmarks/bench_secrecy_export.py [--rows 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _measure import run_cpu

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import OUT, build  # noqa: E402


def template(rows: int) -> Path:
    """A warehouse holding the workbook, aggregated (cached)."""
    wh = OUT / f"wh-carsat-mp_{rows}"
    if not (wh / ".ready").exists():
        path = build(rows)
        if wh.exists():
            shutil.rmtree(wh)
        env = dict(os.environ, PRST_NO_PROGRESS="1", PRST_NO_PLUGINS="1")
        for cmd in (["ingest", "carsat-mp", str(path)], ["aggregate"]):
            subprocess.run([sys.executable, "-m", "prst_etl", *cmd, "-w", str(wh)], check=True, env=env, stdout=subprocess.DEVNULL)
        (wh / ".ready").write_text("")
    return wh


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--level", default="region")
    args = ap.parse_args()
    src = template(args.rows)
    env = dict(os.environ, PRST_NO_PROGRESS="1", PRST_NO_PLUGINS="1")
    plain, secret = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for flag, acc in (("--no-secret", plain), ("--secret", secret)):
                wh = Path(tmp) / f"wh-{i}{flag}"
                shutil.copytree(src, wh)
                shutil.rmtree(wh / "secret", ignore_errors=True)
                cmd = [sys.executable, "-m", "prst_etl", "export", "--level", args.level, flag, "-w", str(wh),
                       "-o", str(Path(tmp) / f"out-{i}{flag}.parquet")]
                acc.append(run_cpu(cmd, env))
                shutil.rmtree(wh)
    med = lambda xs, k: statistics.median(x[k] for x in xs)  # noqa: E731
    pw, sw = med(plain, 0), med(secret, 0)
    pc, sc = med(plain, 2), med(secret, 2)
    pm, sm = max(x[1] for x in plain), max(x[1] for x in secret)
    print(f"warehouse: {src.name}, {args.rounds} rounds, level {args.level}, {os.cpu_count()} CPU")
    print(f"--no-secret: median {pw:.2f} s (CPU {pc:.2f} s), peak {pm:.0f} MiB")
    print(f"--secret   : median {sw:.2f} s (CPU {sc:.2f} s), peak {sm:.0f} MiB  (target < 30 s, < 2048 MiB)")
    print(f"ratio secret / no-secret: wall {sw / pw:.2f}×, CPU {sc / pc:.2f}×, memory {sm / pm:.2f}×")
    print("rounds (s): no-secret " + " ".join(f"{w:.1f}" for w, _, _ in plain) + " | secret " + " ".join(f"{w:.1f}" for w, _, _ in secret))


if __name__ == "__main__":
    main()
