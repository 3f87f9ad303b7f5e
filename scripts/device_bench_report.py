#!/usr/bin/env python3
"""The tables of scripts/device_bench.sh's results (Markdown, for BENCHMARKS.md): kdviz's GPU loss
kernels in f32, f16 and bf16 against PyTorch eager, torch.compile and Liger-Kernel on the same device, and
the real-model training run. Reads what the bench left in a folder; missing files are said, not fatal.

    python3 scripts/device_bench_report.py DIR

DIR holds any of gpu_bench_f32.json, gpu_bench_f16.json, gpu_bench_bf16.json (`kdviz gpu bench --json`),
torch_eager_f32.json, torch_compile_f32.json, torch_eager_bf16.json (`scripts/torch_bench.py --json`) and real_free.json
(`kdviz real --json`), as files or packed in results.tar.gz. Standard library only (it runs on the device machine and here).
"""

import json
import os
import sys
import tarfile

KDVIZ = ("gpu_bench_f32.json", "gpu_bench_f16.json", "gpu_bench_bf16.json")
TORCH = ("torch_eager_f32.json", "torch_compile_f32.json")
TORCH_BF16 = "torch_eager_bf16.json"
# kdviz real with the fused epoch (the default) and with separate kernels (fkl only, to compare).
REAL = {"real_free.json": "fused", "real_free_separate.json": "separate"}


# device_bench.sh packs its JSON files into this one (the device tool returns at most 8 files).
PACKED = "results.tar.gz"


def read_text(folder, name):
    """The file `name` in `folder`, else the member `name` of `folder`/results.tar.gz; None if neither."""
    try:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        pass
    try:
        with tarfile.open(os.path.join(folder, PACKED)) as tar:
            names = {os.path.normpath(m): m for m in tar.getnames()}
            if name not in names:
                return None
            member = tar.extractfile(names[name])
            return None if member is None else member.read().decode("utf-8")
    except (OSError, KeyError, tarfile.TarError):
        return None


def load(folder, name, notes):
    text = read_text(folder, name)
    if text is None:
        notes.append(f"{name}: missing (the step was skipped, failed or timed out: see summary.txt / log.txt)")
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        notes.append(f"{name}: not JSON ({e}); first bytes: {text[:120]!r}")
        return None


def pct(x):
    return "–" if x is None else f"{100 * x:.0f} %"


def fmt(x, spec):
    return "–" if x is None else format(x, spec)


def kdviz_table(benches, notes):
    lines = []
    for name, b in benches.items():
        if b is None:
            continue
        device = b.get("device") or f"no GPU ({b.get('fallback')})"
        lines.append(
            f"kdviz gpu bench, {b['rows']} × {b['vocab']}, {b['dtype']}: {device}; copy bandwidth "
            f"{fmt(b.get('copy_gbps'), '.0f')} GB/s; {b.get('timing')}, median of {b.get('repeats')}"
        )
    if not lines:
        return []
    present = [k for k in KDVIZ if benches.get(k) is not None]
    order = [r["divergence"] for r in benches[present[0]]["results"]]
    by = {k: {r["divergence"]: r for r in benches[k]["results"]} for k in present}
    names = [k.removeprefix("gpu_bench_").removesuffix(".json") for k in present]
    head = "".join(f" {n} ms | {n} GB/s | {n} % copy |" for n in names)
    lines += [
        "",
        f"| divergence | passes |{head} max rel. err vs CPU ({names[0]}) |",
        "|---|---|" + "---|---|---|" * len(present) + "---|",
    ]
    for d in order:
        rows = [by[k].get(d, {}) for k in present]
        passes = next((r["passes"] for r in rows if "passes" in r), "–")
        cells = "".join(
            f" {fmt(r.get('gpu_ms'), '.3f')} | {fmt(r.get('gpu_gbps'), '.4g')} | "
            f"{pct(r.get('fraction_of_copy_bandwidth'))} |"
            for r in rows
        )
        lines.append(f"| {d} | {passes} |{cells} {fmt(rows[0].get('max_rel_value_err_vs_cpu'), '.1e')} |")
    for k in present:
        for sk in benches[k].get("skipped", []):
            notes.append(f"{k}: {sk['divergence']} not timed ({sk['why']})")
    return lines


def torch_table(kdviz, torches, notes, dtype="f32"):
    """kdviz in `dtype` against each PyTorch implementation, per divergence the torch runs timed."""
    runs = [t for t in torches.values() if t is not None]
    if not runs:
        return []
    lines = []
    for t in runs:
        lg = t.get("liger", {})
        liger = (
            "not requested"
            if not lg.get("requested")
            else ("liger-kernel " + str(t.get("liger_kernel")) if lg.get("available") else f"MISSING ({lg.get('error')})")
        )
        impls = sorted({r["impl"] for r in t["results"]})
        if not t.get("complete", True):
            notes.append(f"torch_bench ({', '.join(impls)}) was cut short: {len(t['results'])} rows finished")
        lines.append(
            f"torch_bench ({', '.join(impls)}): {t['device']}, torch {t['torch']}, {t['rows']} × {t['vocab']} "
            f"{t['dtype']}; copy {t['copy_gbps']:.0f} GB/s; liger: {liger}"
        )
    kd = {r["divergence"]: r for r in (kdviz or {}).get("results", [])}
    rows = {}
    for t in runs:
        for r in t["results"]:
            cell = rows.setdefault(r["divergence"], {})
            if r["impl"] in cell and "ms" in cell[r["impl"]]:
                # eager runs twice (beside liger, beside compile): keep the faster
                if "ms" in r and r["ms"] < cell[r["impl"]]["ms"]:
                    cell[r["impl"]] = r
            else:
                cell[r["impl"]] = r
    lines += [
        "",
        f"| divergence | kdviz {dtype} ms | eager ms | compile ms | liger ms | kdviz speed-up vs eager / compile / liger | compile, liger vs eager (grad) |",
        "|---|---|---|---|---|---|---|",
    ]

    def ms(r):
        if r is None:
            return "–"
        if "ms" in r:
            return f"{r['ms']:.3f}"
        return "skipped" if "skipped" in r else "error"

    for d, cell in rows.items():
        k = kd.get(d, {}).get("gpu_ms")
        speed = []
        for impl in ("eager", "compile", "liger"):
            r = cell.get(impl)
            speed.append(f"{r['ms'] / k:.2f}×" if k and r and "ms" in r else "–")
        agree = ", ".join(
            fmt(cell[i].get("grad_max_diff_vs_eager"), ".1e") for i in ("compile", "liger") if i in cell
        )
        lines.append(
            f"| {d} | {fmt(k, '.3f')} | {ms(cell.get('eager'))} | {ms(cell.get('compile'))} | "
            f"{ms(cell.get('liger'))} | {' / '.join(speed)} | {agree or '–'} |"
        )
    for d, cell in rows.items():
        for impl, r in cell.items():
            if "error" in r:
                notes.append(f"torch {impl} {d}: {r['error']}")
            elif "skipped" in r:
                notes.append(f"torch {impl} {d}: skipped: {r['skipped']}")
    return lines


def real_table(reals, notes):
    real = next((r for r in reals.values() if r is not None), None)
    if real is None:
        return []
    lines = [
        f"kdviz real: {real.get('source')}, {real.get('positions')} × {real.get('vocab')}, student "
        f"{real.get('student')}, {real.get('epochs')} epochs" + (f"; no GPU: {real['no_gpu']}" if real.get("no_gpu") else ""),
        "",
        "| divergence | kernels | backend | ms/epoch | GB/s (byte model) | rows/s | objective first → last |",
        "|---|---|---|---|---|---|---|",
    ]
    n = real.get("positions") or 0
    runs = [(k, r) for name, k in REAL.items() for r in (reals.get(name) or {}).get("runs", [])]
    for kernels, r in runs:
        rps = r.get("rows_per_s") or 0
        hist = r.get("history") or []
        obj = f"{hist[0]['objective']:.4g} → {hist[-1]['objective']:.4g}" if hist else "–"
        backend = r.get("backend") + (f" ({r['fallback']})" if r.get("fallback") else "")
        lines.append(
            f"| {r.get('divergence')} | {kernels} | {backend} | {fmt(1e3 * n / rps if rps else None, '.2f')} | "
            f"{fmt(r.get('gb_per_s'), '.4g')} | {fmt(rps, ',.0f')} | {obj} |"
        )
    return lines


def report(folder):
    notes = []
    benches = {k: load(folder, k, notes) for k in KDVIZ}
    torches = {k: load(folder, k, notes) for k in TORCH}
    real = {name: load(folder, name, notes) for name in REAL}
    out = kdviz_table(benches, notes)
    t = torch_table(benches.get(KDVIZ[0]), torches, notes)
    out += ([""] if out and t else []) + t
    torch_bf16 = load(folder, TORCH_BF16, notes)
    t = torch_table(benches.get(KDVIZ[2]), {TORCH_BF16: torch_bf16}, notes, "bf16")
    out += ([""] if out and t else []) + t
    r = real_table(real, notes)
    out += ([""] if out and r else []) + r
    if notes:
        out += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(out)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        sys.exit("usage: device_bench_report.py DIR (the folder device_bench.sh wrote its results to)")
    print(report(argv[0]))


if __name__ == "__main__":
    main()
