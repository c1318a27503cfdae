"""How fast the ``prst`` command answers: ``prst --help``, ``prst sources``, ``prst loads``.

Each command is run N times (interleaved with the baseline, a bare ``python -c pass`` of
the same interpreter, so that a busy machine weighs on both); the medians are printed with
their ratio to the baseline. Targets (issue 10): ``--help`` and ``sources`` under 0.3 s,
``loads`` under 0.5 s.

    python benchmarks/bench_cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import run, run_cpu  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests/fixtures/sources/carsat-mp/communes-2024-extrait.xlsx"
TARGETS = {"--help": 0.3, "sources": 0.3, "loads": 0.5}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    prst = str(Path(sys.executable).with_name("prst"))
    env = {**os.environ, "PRST_NO_PLUGINS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        wh = Path(tmp) / "warehouse"
        run([prst, "ingest", "carsat-mp", str(SAMPLE), "-w", str(wh)], env)  # a warehouse for « prst loads »
        commands = {
            "--help": [prst, "--help"],
            "sources": [prst, "sources"],
            "loads": [prst, "loads", "-w", str(wh)],
        }
        base: list[float] = []
        times: dict[str, list[float]] = {k: [] for k in commands}
        cpus: dict[str, list[float]] = {k: [] for k in commands}
        for _ in range(args.runs):
            base.append(run([sys.executable, "-c", "pass"], env)[0])
            for name, cmd in commands.items():
                wall, _, cpu = run_cpu(cmd, env)
                times[name].append(wall)
                cpus[name].append(cpu)
    b = statistics.median(base)
    print(f"baseline (python -c pass): median {b:.3f} s over {args.runs} runs")
    print(f"load average: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU times much less)")
    print(f"{'command':<14}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'× baseline':>12}{'target s':>10}  ok")
    for name, ts in times.items():
        m = statistics.median(ts)
        c = statistics.median(cpus[name])
        ok = "yes" if m <= TARGETS[name] else "NO"
        print(f"prst {name:<9}{m:>10.3f}{min(ts):>8.3f}{max(ts):>8.3f}{c:>8.3f}{m / b:>12.1f}{TARGETS[name]:>10.1f}  {ok}")


if __name__ == "__main__":
    main()
