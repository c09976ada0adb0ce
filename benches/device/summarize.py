#!/usr/bin/env python3
"""The table of benches/device/side_by_side.sh: reads its runs.jsonl (one JSON line per run, in
run order) and prints markdown: per workload, the median rate of every deepgen backend and of
PyTorch, and the median of the per-round ratios deepgen / PyTorch with their range (round i's
deepgen run against round i's PyTorch run, which ran right after it).

Usage: python benches/device/summarize.py RUNS.jsonl [MACHINE.txt]
"""

import json
import statistics
import sys
from collections import OrderedDict


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__.strip().splitlines()[-1])
    runs = OrderedDict()  # workload -> impl -> [line, ...] in run order
    with open(sys.argv[1]) as f:
        for n, text in enumerate(f, 1):
            text = text.strip()
            if not text:
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{sys.argv[1]}:{n}: not a JSON line ({e})")
            runs.setdefault(line["workload"], OrderedDict()).setdefault(line["impl"], []).append(line)
    print("# deepgen against PyTorch, side by side (benches/device/side_by_side.sh)\n")
    if len(sys.argv) == 3:
        with open(sys.argv[2]) as f:
            print("".join(f"- {l}" for l in f if l.strip()))
    print("Rates are per second (median of the rounds); ratio = deepgen / PyTorch per round, "
          "median (min-max); memory: deepgen's peak RSS, PyTorch's peak RSS / peak CUDA "
          "allocation, MiB.\n")
    print("| workload | unit | implementation | rate | ratio | memory | failed runs |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for workload, impls in runs.items():
        torch_runs = next((v for k, v in impls.items() if k.startswith("pytorch")), [])
        torch_rates = [r.get("per_s_median") for r in torch_runs]
        for impl, lines in impls.items():
            ok = [r for r in lines if "per_s_median" in r]
            failed = len(lines) - len(ok)
            unit = ok[0]["unit"] if ok else "-"
            rate = f"{statistics.median(r['per_s_median'] for r in ok):.4g}" if ok else "-"
            ratio = "-"
            if not impl.startswith("pytorch"):
                pairs = [(a.get("per_s_median"), b) for a, b in zip(lines, torch_rates)]
                ratios = [a / b for a, b in pairs if a and b]
                if ratios:
                    ratio = (f"**{statistics.median(ratios):.2f}x** "
                             f"({min(ratios):.2f}-{max(ratios):.2f})")
            mem = "-"
            if ok:
                rss = max(r.get("peak_rss_mib", 0.0) for r in ok)
                mem = f"{rss:.0f}"
                if any("peak_gpu_mib" in r for r in ok):
                    mem += f" / {max(r.get('peak_gpu_mib', 0.0) for r in ok):.0f}"
            print(f"| {workload} | {unit} | {impl} | {rate} | {ratio} | {mem} | {failed} |")


if __name__ == "__main__":
    main()
