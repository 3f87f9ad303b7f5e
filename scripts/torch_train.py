#!/usr/bin/env python3
"""The PyTorch side of `kdviz real` on the CPU: the same training, timed per epoch, for BENCHMARKS.md.

What one epoch does, as kdviz's CPU trainer does it (src/real/train.rs):
  student logits  Z = H·W (low rank, H [N × d], W [d × V]) or Z itself (free, from zeros)
  objective       mean over rows of the divergence (scripts/torch_bench.py's formulas, which match
                  `kdviz eval` to 2.5e-14 per row in f64), backward, one torch.optim.Adam step
                  (β1 0.9, β2 0.999, eps 1e-8, lr 0.05 as `kdviz real`'s defaults)
  metrics         under no_grad, as kdviz records them every epoch: KL(p‖q), KL(q‖p), Σ_head |p − q|,
                  Σ_tail |p − q| (head: the teacher's top-1 plus the classes holding cumulative teacher
                  mass ≤ μ, fixed per run) and top-1 agreement (--no-metrics drops them)

The teacher is written to a .safetensors file (--write-teacher) that `kdviz real --input FILE` trains
on, so both sides see the same logits; a free student starts at zeros on both, so their objectives
agree epoch by epoch to f32 rounding (--compare-kdviz BIN runs kdviz in f64 and prints the worst
relative difference; it then keeps the logits and Adam's moments in f32, as kdviz does, with the rows
in f64: about 1e-6 after 5 epochs, one f32 rounding of Adam's step apart per epoch).

    python3 scripts/torch_train.py --write-teacher /tmp/teacher.safetensors --student lowrank:d=16 \\
        --div fkl --div rkl --div akl:mu=0.5 --epochs 10 --dtype f32 --json
    kdviz real --input /tmp/teacher.safetensors --student lowrank:d=16 --div fkl --epochs 10 --json

Needs torch (CPU is enough); threads: torch's default (all cores) unless --threads.
"""

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bench import SpecError, make_divergence, parse_spec  # noqa: E402


def zipf_teacher(torch, n, v, seed):
    """[N × V] logits: a Zipf(1.1) profile over a random order of the classes per row, plus noise."""
    g = torch.Generator().manual_seed(seed)
    base = -1.1 * torch.log(torch.arange(1, v + 1, dtype=torch.float64))
    rows = []
    for _ in range(n):
        perm = torch.randperm(v, generator=g)
        rows.append(base[perm] + 0.5 * torch.randn(v, generator=g, dtype=torch.float64))
    return torch.stack(rows).to(torch.float32)


def write_safetensors(path, name, t):
    """One f32 tensor in the safetensors format (8-byte header length, JSON header, raw bytes)."""
    data = t.contiguous().numpy().tobytes() if hasattr(t, "numpy") else bytes(t)
    header = json.dumps({name: {"dtype": "F32", "shape": list(t.shape), "data_offsets": [0, len(data)]}})
    header += " " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)))
        f.write(header.encode())
        f.write(data)


def read_safetensors(torch, path, name="teacher_logits"):
    with open(path, "rb") as f:
        (hlen,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(hlen))
        if name not in header:
            raise SystemExit(f"{path}: no tensor {name!r}; expected kdviz's teacher_logits")
        meta = header[name]
        if meta["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {meta['dtype']}; expected F32")
        a, b = meta["data_offsets"]
        f.seek(8 + hlen + a)
        buf = bytearray(f.read(b - a))
    return torch.frombuffer(buf, dtype=torch.float32).reshape(meta["shape"]).clone()


def head_mask(torch, lp, mu):
    """The teacher's top-1 and the classes whose cumulative mass (descending) is ≤ μ, per row."""
    p = lp.exp()
    order = torch.argsort(p, dim=-1, descending=True)
    cum = torch.cumsum(torch.gather(p, -1, order), dim=-1)
    inside = cum <= mu
    inside[:, 0] = True
    mask = torch.zeros_like(inside)
    mask.scatter_(-1, order, inside)
    return mask


def top1(torch, z, t):
    """Rows where the student's argmax is the teacher's; a tie of m classes counts 1/m (as kdviz)."""
    zmax = z.max(-1, keepdim=True).values
    ties = (z == zmax).sum(-1)
    hit = torch.gather(z, -1, t.argmax(-1, keepdim=True)).squeeze(-1) == zmax.squeeze(-1)
    return float((hit.to(torch.float64) / ties).mean())


def train(torch, teacher, spec, student, epochs, lr, dtype, mu, metrics, seed, pdtype=None):
    """`dtype`: the arithmetic; `pdtype`: the parameters' storage (default the same)."""
    name, prm = parse_spec(spec)
    loss_rows = make_divergence(name, prm, torch, dtype)
    n, v = teacher.shape
    t = teacher.to(dtype)
    pdtype = pdtype or dtype
    torch.manual_seed(seed)
    if student == "free":
        z = torch.zeros(n, v, dtype=pdtype, requires_grad=True)
        params = [z]
        logits = lambda: z  # noqa: E731
    else:
        d = student
        h = (torch.randn(n, d, dtype=torch.float64) * math.sqrt(1.0 / d)).to(pdtype).requires_grad_()
        w = (0.1 * torch.randn(d, v, dtype=torch.float64)).to(pdtype).requires_grad_()
        params = [h, w]
        logits = lambda: h @ w  # noqa: E731
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    lp_t = torch.log_softmax(t, -1)
    head = head_mask(torch, lp_t, mu) if metrics else None
    p_t = lp_t.exp()
    history, times = [], []
    for epoch in range(epochs + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        zz = logits()
        objective = loss_rows(t, zz).mean()
        row = {"epoch": epoch, "objective": objective.detach().item()}
        if metrics:
            with torch.no_grad():
                lq = torch.log_softmax(zz.detach().to(dtype), -1)
                q = lq.exp()
                gap = (p_t - q).abs()
                row.update(
                    kl_pq=float((p_t * (lp_t - lq)).sum(-1).mean()),
                    kl_qp=float((q * (lq - lp_t)).sum(-1).mean()),
                    head_gap=float((gap * head).sum(-1).mean()),
                    tail_gap=float((gap * ~head).sum(-1).mean()),
                    top1=top1(torch, zz.detach(), t),
                )
        if epoch < epochs:
            objective.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
        history.append(row)
    # Epoch 0 pays first-touch costs; the median of the others is the figure.
    ms = 1e3 * statistics.median(times[1:epochs]) if epochs > 1 else 1e3 * times[0]
    return {"divergence": spec, "ms_per_epoch": ms, "history": history}


def compare_kdviz(binary, teacher_path, spec, epochs, runs):
    """kdviz in f64 on the same teacher with a free student (f32 logits and Adam state, rows in f64,
    as kdviz stores them): the relative difference of the objectives, worst epoch."""
    cmd = [binary, "real", "--input", teacher_path, "--student", "free", "--div", spec, "--epochs",
           str(epochs), "--backend", "cpu", "--cpu-arith", "f64", "--json"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    theirs = [h["objective"] for h in out["runs"][0]["history"]]
    ours = [h["objective"] for h in runs["history"]]
    worst = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(ours, theirs))
    return worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--positions", type=int, default=2048, help="N, rows (kdviz's built-in teacher: 2048)")
    ap.add_argument("--vocab", type=int, default=5751, help="V, classes (the built-in teacher: 5751)")
    ap.add_argument("--teacher", help="train on this .safetensors teacher_logits instead of a generated one")
    ap.add_argument("--write-teacher", metavar="FILE", help="write the (generated) teacher for kdviz real --input")
    ap.add_argument("--student", default="lowrank:d=16", help="free or lowrank:d=D")
    ap.add_argument("--div", action="append", help="divergence spec (repeatable); default fkl, rkl, akl:mu=0.5")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--mu", type=float, default=0.5, help="the metrics head's cumulative mass")
    ap.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    ap.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    ap.add_argument("--no-metrics", action="store_true", help="the loss, backward and Adam only")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--compare-kdviz", metavar="BIN", help="check a free student's objectives against kdviz f64")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.positions < 1 or args.vocab < 2 or args.epochs < 1:
        ap.error("expected --positions >= 1, --vocab >= 2, --epochs >= 1")
    if args.student == "free":
        student = "free"
    elif args.student.startswith("lowrank:d="):
        try:
            student = int(args.student.split("=", 1)[1])
        except ValueError:
            ap.error(f"--student {args.student!r}: expected free or lowrank:d=D")
        if student < 1:
            ap.error(f"--student {args.student!r}: expected a rank d >= 1")
    else:
        ap.error(f"--student {args.student!r}: expected free or lowrank:d=D")
    try:
        import torch
    except ImportError as e:
        sys.exit(f"torch_train.py: cannot import torch ({e}); install torch (the CPU build is enough)")
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "f64": torch.float64}[args.dtype]
    if args.teacher:
        teacher = read_safetensors(torch, args.teacher)
    else:
        teacher = zipf_teacher(torch, args.positions, args.vocab, args.seed)
    if args.write_teacher:
        write_safetensors(args.write_teacher, "teacher_logits", teacher)
    specs = args.div or ["fkl", "rkl", "akl:mu=0.5"]
    runs = []
    for spec in specs:
        try:
            # The check mirrors kdviz's storage: f32 logits and Adam state, f64 rows.
            pdtype = torch.float32 if args.compare_kdviz else dtype
            r = train(torch, teacher, spec, student, args.epochs, args.lr, dtype, args.mu,
                      not args.no_metrics, args.seed, pdtype)
        except SpecError as e:
            sys.exit(f"torch_train.py: --div {spec!r}: {e}")
        if args.compare_kdviz:
            path = args.teacher or args.write_teacher
            if not path or student != "free" or args.dtype != "f64":
                sys.exit("--compare-kdviz needs --student free, --dtype f64 and a teacher file "
                         "(--teacher or --write-teacher)")
            r["max_rel_objective_diff_vs_kdviz"] = compare_kdviz(args.compare_kdviz, path, spec,
                                                                 args.epochs, r)
        runs.append(r)
    report = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "positions": teacher.shape[0],
        "vocab": teacher.shape[1],
        "student": args.student,
        "dtype": args.dtype,
        "epochs": args.epochs,
        "metrics": not args.no_metrics,
        "runs": [{k: v for k, v in r.items() if k != "history"} | {"final_objective": r["history"][-1]["objective"]}
                 for r in runs],
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"torch {report['torch']}, {report['threads']} threads, {report['positions']} × {report['vocab']}, "
              f"{args.student}, {args.dtype}, metrics {'on' if report['metrics'] else 'off'}")
        for r in report["runs"]:
            extra = ""
            if "max_rel_objective_diff_vs_kdviz" in r:
                extra = f"  (objective vs kdviz f64: {r['max_rel_objective_diff_vs_kdviz']:.1e} relative)"
            print(f"{r['divergence']:>16}  {r['ms_per_epoch']:9.1f} ms/epoch{extra}")


if __name__ == "__main__":
    main()
