#!/usr/bin/env python3
"""The forward+backward of every kdviz divergence in PyTorch, for side-by-side timing with
`kdviz gpu bench` on the same GPU.

For each divergence spec (kdviz's spec strings, e.g. `jsd:beta=0.5`) it times, over N rows of V
classes, the per-row divergence summed over rows and its gradient w.r.t. the student logits:

  eager     plain PyTorch (autograd), float32 arithmetic
  compile   the same function under torch.compile (forward and backward compiled)
  liger     Liger-Kernel's fused losses where one exists: fkl (LigerKLDIVLoss), jsd (LigerJSD),
            tvd (LigerTVDLoss); log_softmax/softmax of the logits are done by PyTorch in front of
            them and are part of the timed step. When `liger_kernel` fails to import, the output
            says so (a `liger: MISSING ...` line, a `skipped` row per Liger family, and the JSON's
            `liger` object: requested, available, error with the exception's text)

Each compile and liger row also says how far it is from the eager row of the same divergence (same
data): the relative difference of the value and the largest gradient difference over the largest eager
gradient entry (`value_rel_diff_vs_eager`, `grad_max_diff_vs_eager` in the JSON).

Data as in `kdviz gpu bench`: teacher logits ~ N(0, 3²), student = teacher + N(0, 1) (other
random numbers, same statistics), stored in --dtype and computed in float32.

Byte model (the same as kdviz's, from shared/notes/peers-and-gpu.md §3.3): a divergence that makes
P passes over both [N, V] inputs and writes the [N, V] gradient moves (2·P + 1)·s bytes per element
(s = 4 for f32, 2 for f16/bf16), with P = 2 for fkl, rkl, taid, hinton; 3 for akl, jsd, tvd, skl,
srkl, ab, alpha; 4 for amid (jsd/skl/srkl endpoints that reduce to fkl/rkl count as those). GB/s =
those bytes / time, whatever the implementation really moves, so the numbers compare directly with
kdviz's; "% copy" divides by the bandwidth of a device-to-device copy of both inputs (read + write
counted), which is what kdviz measures too.

Formulas follow shared/spec/divergences.md and the kdviz CPU engine (true divergence values, H(p)
included). Differences from kdviz's kernels, stated: ab/alpha use the general closed form (kdviz uses
the cancellation-free one; the torch mirror supports a, b, a+b != 0 plus the fkl/rkl corners); akl
finds its head by sorting p, as the reference AKL.py does (kdviz uses a per-row threshold); taid has a
fixed t only (no schedule); amid supports div=fkl and div=ab with every order. At AMiD's endpoints r is
q (λ = 0) or p (λ = 1) itself, as in kdviz: D(x, x) is exactly 0, and at λ = 1 with order pr or rp
nothing depends on the student, so the gradient is zero (not autograd's "does not require grad").

--check times nothing: it evaluates the formulas in float64 on the CPU against the spec's test vectors
(shared/spec/divergences.md §15, with the AMiD λ = 0 / λ = 1 endpoints of every order derived from its
FKL, RKL and AB rows) at 1e-9, then, if a kdviz binary is found (--kdviz, target/release/kdviz or PATH),
against `kdviz eval --json` on those vectors and on a random V = 64 row. Exit status 1 on any mismatch.

    python3 scripts/torch_bench.py --check

    python3 scripts/torch_bench.py --rows 4096 --vocab 131072
    python3 scripts/torch_bench.py --rows 4096 --vocab 131072 --div fkl --div jsd:beta=0.5 --json
"""

import argparse
import json
import math
import statistics
import sys
import time

DEFAULT_SPECS = [
    "fkl",
    "rkl",
    "akl:mu=0.5",
    "jsd:beta=0.5",
    "tvd",
    "skl:alpha=0.1",
    "srkl:alpha=0.1",
    "ab:alpha=0.2,beta=0.7",
    "alpha:alpha=0.5",
    "taid:t=0.4",
    "amid:alpha=0.5,lambda=0.5,div=fkl,order=pr",
    "hinton:T=2,a=0.5,label=0",
]

# Parameters each family takes, with defaults (kdviz's), and aliases.
FAMILIES = {
    "fkl": {},
    "rkl": {},
    "tvd": {},
    "akl": {"mu": 0.5},
    "jsd": {"beta": 0.5, "norm": False},
    "skl": {"alpha": 0.1},
    "srkl": {"alpha": 0.1, "detach": False},
    "ab": {"alpha": 0.2, "beta": 0.7},
    "alpha": {"alpha": 0.5},
    "taid": {"t": 0.4},
    "amid": {"alpha": 0.5, "lambda": 0.5, "div": "fkl", "order": "pr", "ab_alpha": 0.2, "ab_beta": 0.7},
    "hinton": {"T": 2.0, "a": 0.5, "label": 0},
}
ALIASES = {"amid": {"lam": "lambda"}, "hinton": {"t": "T", "temperature": "T"}}


class SpecError(ValueError):
    pass


def parse_spec(spec):
    """`name:key=value,...` -> (name, params) with kdviz's defaults filled in."""
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in FAMILIES:
        raise SpecError(f"unknown divergence {name!r}; expected one of {', '.join(FAMILIES)}")
    params = dict(FAMILIES[name])
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq:
            raise SpecError(f"{name}: {item!r} is not key=value")
        key = ALIASES.get(name, {}).get(key, key)
        if key not in params:
            raise SpecError(f"{name}: unknown parameter {key!r}; expected one of {', '.join(params) or 'none'}")
        default = params[key]
        value = value.strip()
        if isinstance(default, bool):
            if value not in ("true", "false", "1", "0", "yes", "no"):
                raise SpecError(f"{name}: {key}={value!r}; expected true or false")
            params[key] = value in ("true", "1", "yes")
        elif isinstance(default, int) and key == "label":
            params[key] = int(value)
        elif isinstance(default, str):
            params[key] = value
        else:
            try:
                params[key] = float(value)
            except ValueError:
                raise SpecError(f"{name}: {key}={value!r} is not a number") from None
    if name == "amid" and params["div"] not in ("fkl", "ab"):
        raise SpecError("amid: div must be fkl or ab")
    if name == "amid" and params["order"] not in ("pr", "qr", "rp", "rq"):
        raise SpecError("amid: order must be pr, qr, rp or rq")
    return name, params


def passes(name, p):
    """kdviz's pass count for the byte model (src/gpu/plan.rs)."""
    if name == "jsd" and p["beta"] in (0.0, 1.0):
        return 2
    if name in ("skl", "srkl") and p["alpha"] == 0.0:
        return 2
    if name in ("fkl", "rkl", "taid", "hinton"):
        return 2
    if name == "amid":
        return 4
    return 3


# ------------------------------------------------------------------------------------ formulas


def make_divergence(name, prm, torch, compute=None):
    """A function (teacher_logits, student_logits) -> per-row divergence [N], computed in `compute`
    (float32 by default; float64 for --check)."""
    F = torch.nn.functional
    compute = compute or torch.float32

    def cast(x):
        return x.to(compute)

    def kl(lx, ly):
        """KL(x||y) per row from log-probabilities; 0·log 0 = 0."""
        x = lx.exp()
        return torch.where(x > 0, x * (lx - ly), torch.zeros_like(x)).sum(-1)

    def logs(t, z):
        return F.log_softmax(cast(t), -1), F.log_softmax(cast(z), -1)

    def mix(lx, ly, w):
        """log(w·x + (1−w)·y) for 0 < w < 1."""
        return torch.logaddexp(math.log(w) + lx, math.log1p(-w) + ly)

    def ab_div(lx, ly, a, b):
        """D_AB^(a,b)(x||y), general branch (a, b, a+b != 0), plus the FKL/RKL corners."""
        if (a, b) == (1.0, 0.0):
            return kl(lx, ly)
        if (a, b) == (0.0, 1.0):
            return kl(ly, lx)
        if a == 0 or b == 0 or a + b == 0:
            raise SpecError(f"ab: alpha={a}, beta={b} is a limit line the torch mirror does not implement")
        s = a + b
        terms = (a * lx + b * ly).exp() - (a / s) * (s * lx).exp() - (b / s) * (s * ly).exp()
        return -terms.sum(-1) / (a * b)

    if name == "fkl":
        return lambda t, z: kl(*logs(t, z))
    if name == "rkl":
        return lambda t, z: kl(*reversed(logs(t, z)))
    if name == "tvd":

        def tvd(t, z):
            lp, lq = logs(t, z)
            return 0.5 * (lp.exp() - lq.exp()).abs().sum(-1)

        return tvd
    if name == "jsd":
        beta, norm = prm["beta"], prm["norm"]
        if beta == 0.0:
            return make_divergence("fkl", {}, torch, compute)
        if beta == 1.0:
            return make_divergence("rkl", {}, torch, compute)
        scale = 1.0 / (beta * (1.0 - beta)) if norm else 1.0

        def jsd(t, z):
            lp, lq = logs(t, z)
            lm = mix(lp, lq, beta)
            return scale * (beta * kl(lp, lm) + (1.0 - beta) * kl(lq, lm))

        return jsd
    if name == "skl":
        a = prm["alpha"]
        if a == 0.0:
            return make_divergence("fkl", {}, torch, compute)

        def skl(t, z):
            lp, lq = logs(t, z)
            return kl(lp, mix(lp, lq, a))

        return skl
    if name == "srkl":
        a, detach = prm["alpha"], prm["detach"]
        if a == 0.0:
            return make_divergence("rkl", {}, torch, compute)

        def srkl(t, z):
            lp, lq = logs(t, z)
            lq_m = lq.detach() if detach else lq
            return kl(lq, mix(lq_m, lp, a))  # m = a·q + (1−a)·p

        return srkl
    if name == "ab":
        a, b = prm["alpha"], prm["beta"]
        return lambda t, z: ab_div(*logs(t, z), a, b)
    if name == "alpha":
        a = prm["alpha"]
        return lambda t, z: ab_div(*logs(t, z), a, 1.0 - a)
    if name == "taid":
        tt = prm["t"]

        def taid(t, z):
            lp, lq = logs(t, z)
            lpt = F.log_softmax(tt * lp + (1.0 - tt) * lq.detach(), -1)
            return kl(lpt, lq)

        return taid
    if name == "akl":
        mu = prm["mu"]

        def akl(t, z):
            lp, lq = logs(t, z)
            with torch.no_grad():  # AKL.py: weights from the teacher's sorted head, student detached
                p = lp.exp()
                q = lq.exp()
                ps, idx = torch.sort(p, dim=-1, descending=True)
                err = (ps - torch.gather(q, -1, idx)).abs()
                tail = ps.cumsum(-1) > mu
                tail[:, 0] = False
                g_tail = (err * tail).sum(-1)
                g_head = err.sum(-1) - g_tail
                total = g_head + g_tail
                w_head = torch.where(total > 0, g_head / total, torch.full_like(total, 0.5))
            return w_head * kl(lp, lq) + (1.0 - w_head) * kl(lq, lp)

        return akl
    if name == "amid":
        alpha, lam, order = prm["alpha"], prm["lambda"], prm["order"]
        if prm["div"] == "ab":
            a, b = prm["ab_alpha"], prm["ab_beta"]

            def div(lx, ly):
                return ab_div(lx, ly, a, b)
        else:
            div = kl
        s = 0.5 * (1.0 - alpha)

        def amid(t, z):
            lp, lq = logs(t, z)
            if lam <= 0.0:
                lr = lq
            elif lam >= 1.0:
                lr = lp
            elif alpha == 1.0:
                lr = F.log_softmax(lam * lp + (1.0 - lam) * lq, -1)
            else:
                lr = F.log_softmax(torch.logaddexp(math.log(lam) + s * lp, math.log1p(-lam) + s * lq) / s, -1)
            x, y = {"pr": (lp, lr), "qr": (lq, lr), "rp": (lr, lp), "rq": (lr, lq)}[order]
            if x is y:
                # An endpoint where r is the other argument itself (λ = 1: r = p for pr/rp; λ = 0: r = q
                # for qr/rq): D(x, x) = 0 exactly, as kdviz's copied endpoint gives. For pr/rp at λ = 1
                # nothing depends on the student any more; value_and_grad returns a zero gradient then.
                return torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
            return div(x, y)

        return amid
    if name == "hinton":
        temp, a, label = prm["T"], prm["a"], prm["label"]

        def hinton(t, z):
            lq = F.log_softmax(cast(z), -1)
            ce = -lq[:, label]
            lpt = F.log_softmax(cast(t) / temp, -1)
            lqt = F.log_softmax(cast(z) / temp, -1)
            return (1.0 - a) * ce + a * temp * temp * kl(lpt, lqt)

        return hinton
    raise SpecError(f"unknown divergence {name!r}")


LIGER_FAMILIES = "fkl, jsd (norm=false), tvd"


def import_liger():
    """(liger_kernel.transformers or None, why not). Any exception counts: a Liger built for another
    torch or triton fails with errors other than ImportError, and that must be reported, not hidden."""
    try:
        import liger_kernel.transformers as lk

        return lk, None
    except Exception as e:
        return None, f"{type(e).__name__}: {first_line(e)}"


def first_line(e):
    text = str(e)
    return text.splitlines()[0] if text else ""


def has_liger_kernel(name, prm):
    """Whether Liger-Kernel has a fused loss for this divergence (make_liger's cases)."""
    return name in ("fkl", "tvd") or (name == "jsd" and (prm["beta"] == 0.0 or not prm["norm"]))


def make_liger(name, prm, torch, lk):
    """Liger-Kernel's fused loss for this divergence (sum over rows), or None where it has none."""
    F = torch.nn.functional
    if name == "fkl" or (name == "jsd" and prm["beta"] == 0.0):
        loss = lk.LigerKLDIVLoss(reduction="sum", log_target=True)
        return lambda t, z: loss(F.log_softmax(z.float(), -1), F.log_softmax(t.float(), -1))
    if name == "jsd" and not prm["norm"]:
        loss = lk.LigerJSD(beta=prm["beta"])

        def jsd(t, z):  # LigerJSD averages over rows; scale back to the sum
            return loss(F.log_softmax(z.float(), -1), F.log_softmax(t.float(), -1)) * t.shape[0]

        return jsd
    if name == "tvd":
        loss = lk.LigerTVDLoss(reduction="sum")
        return lambda t, z: loss(F.softmax(z.float(), -1), F.softmax(t.float(), -1))
    return None


def value_and_grad(f, teacher, z, torch):
    """(Σ_rows f(teacher, z), ∂/∂z). A divergence that no longer depends on the student (AMiD at λ = 1
    with order pr or rp, where r = p) has no autograd graph: its gradient is zero, as in kdviz, rather
    than autograd's "does not require grad" error."""
    loss = f(teacher, z)
    loss = loss.sum() if loss.dim() > 0 else loss
    if not loss.requires_grad:
        return loss, torch.zeros_like(z)
    (grad,) = torch.autograd.grad(loss, z)
    return loss, grad


# ------------------------------------------------------------------------------------ timing


class Timer:
    """CUDA events on a GPU, the wall clock (after a synchronise) elsewhere."""

    def __init__(self, torch, device):
        self.torch = torch
        self.cuda = device.type == "cuda"

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def time_ms(self, fn, repeats, warmup=1):
        for _ in range(warmup):
            fn()
        self.sync()
        times = []
        for _ in range(repeats):
            if self.cuda:
                start = self.torch.cuda.Event(enable_timing=True)
                end = self.torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def copy_bandwidth(torch, device, nbytes, dtype, timer, repeats):
    """Device-to-device copy of `nbytes` (both inputs' size): (read + write) / time, GB/s."""
    elem = torch.finfo(dtype).bits // 8
    src = torch.empty(nbytes // elem, dtype=dtype, device=device).uniform_()
    dst = torch.empty_like(src)
    ms = timer.time_ms(lambda: dst.copy_(src), repeats, warmup=2)
    moved = 2 * src.numel() * elem
    del src, dst
    return moved / (ms * 1e-3) / 1e9, ms, moved


def run(args, torch):
    device = torch.device(args.device)
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    elem = torch.finfo(dtype).bits // 8
    n, v = args.rows, args.vocab
    specs = args.div or DEFAULT_SPECS
    parsed = [(s, *parse_spec(s)) for s in specs]
    for s, name, prm in parsed:
        if name == "hinton" and not 0 <= prm["label"] < v:
            raise SpecError(f"{s}: label {prm['label']} is outside the vocabulary of {v}")

    gen = torch.Generator(device=device).manual_seed(args.seed)
    teacher = (3.0 * torch.randn(n, v, generator=gen, device=device)).to(dtype)
    student = (teacher.float() + torch.randn(n, v, generator=gen, device=device)).to(dtype)
    timer = Timer(torch, device)
    copy_gbps, copy_ms, copy_bytes = copy_bandwidth(torch, device, 2 * n * v * elem, dtype, timer, args.repeats)
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]  # checked by main
    lk, liger_error = import_liger() if "liger" in impls else (None, None)

    results = []
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    report = {
        "device": dev_name,
        "torch": torch.__version__,
        "liger_kernel": liger_version(),
        # Whether Liger rows were asked for and could run: {"requested", "available", "error"}.
        "liger": {
            "requested": "liger" in impls,
            "available": lk is not None,
            "error": liger_error,
            "families": LIGER_FAMILIES,
        },
        "rows": n,
        "vocab": v,
        "dtype": args.dtype,
        "repeats": args.repeats,
        "timing": "cuda-events" if device.type == "cuda" else "wall-clock",
        "copy_gbps": copy_gbps,
        "copy_ms": copy_ms,
        "copy_bytes": copy_bytes,
        "byte_model": f"bytes = (2 x passes + 1) x {elem} B per element (kdviz's model, {args.dtype} storage)",
        "results": results,
        "complete": False,  # true once every row is done: --out is rewritten after each row
    }
    for spec, name, prm in parsed:
        p = passes(name, prm)
        bpe = (2 * p + 1) * elem
        eager = None  # (value, gradient) of the eager run, which the other implementations are compared with
        for impl in impls:
            row = {"divergence": spec, "impl": impl, "passes": p, "bytes_per_elem": bpe}
            try:
                if impl == "eager":
                    f = make_divergence(name, prm, torch)
                elif impl == "compile":
                    f = torch.compile(make_divergence(name, prm, torch), mode=args.compile_mode, dynamic=False)
                else:  # liger
                    if not has_liger_kernel(name, prm):
                        continue  # Liger has no kernel for this family (the header says which it has)
                    if lk is None:
                        row["skipped"] = f"liger_kernel failed to import ({liger_error})"
                        results.append(row)
                        save(report, args.out)
                        continue
                    f = make_liger(name, prm, torch, lk)
                z = student.detach().requires_grad_(True)
                value = {}

                def step(f=f, z=z, value=value):
                    value["loss"], value["grad"] = value_and_grad(f, teacher, z, torch)

                # compile: the first calls compile (not timed); two warm-ups settle autotuning
                ms = timer.time_ms(step, args.repeats, warmup=2 if impl == "compile" else 1)
                row.update(
                    ms=ms,
                    gbps=bpe * n * v / (ms * 1e-3) / 1e9,
                    fraction_of_copy_bandwidth=(bpe * n * v / (ms * 1e-3) / 1e9) / copy_gbps,
                    mean_value=float(value["loss"].detach()) / n,
                )
                if impl == "eager":
                    eager = (row["mean_value"], value["grad"])
                elif eager is not None:
                    # Agreement with eager (same data, f32 arithmetic): a fused kernel that is fast but
                    # wrong must show here.
                    ev, eg = eager
                    row["value_rel_diff_vs_eager"] = abs(row["mean_value"] - ev) / max(abs(ev), 1e-30)
                    scale = float(eg.abs().max())
                    row["grad_max_diff_vs_eager"] = float((value["grad"] - eg).abs().max()) / max(scale, 1e-30)
                del z, value
            except Exception as e:  # an OOM, a compile failure or an unsupported case is a result, not the end
                row["error"] = f"{type(e).__name__}: {first_line(e)}"
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            results.append(row)
            save(report, args.out)
        del eager

    report["complete"] = True
    save(report, args.out)
    return report


def save(report, path):
    """Writes the report so far to `path` (if any), whole or not at all: a run cut short by a time limit
    leaves the rows it finished, with "complete": false."""
    if not path:
        return
    import os

    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(report, f)
    os.replace(tmp, path)


def liger_version():
    try:
        from importlib.metadata import version

        return version("liger-kernel")
    except Exception:
        return None


def liger_line(r):
    """What happened to the Liger rows, always said when they were asked for."""
    lg = r["liger"]
    if not lg["requested"]:
        return "liger: not requested (--impl)"
    if lg["available"]:
        return f"liger: liger-kernel {r['liger_kernel'] or '(version unknown)'}, kernels for {lg['families']}"
    return f"liger: MISSING, liger_kernel failed to import ({lg['error']}); its rows ({lg['families']}) are skipped"


def print_table(r):
    print(f"device: {r['device']}  torch {r['torch']}")
    print(liger_line(r))
    print(f"{r['rows']} rows x {r['vocab']} classes, {r['dtype']} storage, f32 arithmetic; {r['timing']}, median of {r['repeats']}")
    print(f"byte model: {r['byte_model']}")
    print(f"copy bandwidth: {r['copy_gbps']:.1f} GB/s (read+write {r['copy_bytes'] / 1e6:.1f} MB in {r['copy_ms']:.3f} ms)")
    print(
        f"{'divergence':<46} {'impl':<8} {'passes':>6} {'B/elem':>6} {'ms':>10} {'GB/s':>8} {'% copy':>7} "
        f"{'mean value':>12} {'vs eager: value, grad':>22}"
    )
    for row in r["results"]:
        if "error" in row or "skipped" in row:
            why = row["error"] if "error" in row else "skipped: " + row["skipped"]
            print(f"{row['divergence']:<46} {row['impl']:<8} {row['passes']:>6} {row['bytes_per_elem']:>6}  {why}")
            continue
        print(
            f"{row['divergence']:<46} {row['impl']:<8} {row['passes']:>6} {row['bytes_per_elem']:>6} "
            f"{row['ms']:>10.3f} {row['gbps']:>8.1f} {100 * row['fraction_of_copy_bandwidth']:>6.0f}% "
            f"{row['mean_value']:>12.6g}"
            + (
                f" {row['value_rel_diff_vs_eager']:>10.2e}, {row['grad_max_diff_vs_eager']:.2e}"
                if "grad_max_diff_vs_eager" in row
                else ""
            )
        )


# ------------------------------------------------------------------------------------ --check

# shared/spec/divergences.md §15 (the vectors of practice.md §0.3 A): teacher u, student z, and the
# table's value and gradient d/dz (10 decimals) per spec string, in kdviz's spelling.
CHECK_U = [1.0, 0.9, 0.8, 0.7, 0.0, -1.0]
CHECK_Z = [0.2, 1.0, -0.5, 0.9, 0.3, 0.0]
SPEC_TABLE = {
    "fkl": (0.2056397822, [-0.1214894235, 0.0624923638, -0.1415238735, 0.0761826180, 0.0515614466, 0.0727768685]),
    "rkl": (0.1852638547, [-0.1100665386, 0.0165364351, -0.0870725382, 0.0412527380, 0.0370682147, 0.1022816890]),
    "jsd:beta=0.1": (0.0180462858, [-0.0107389765, 0.0050532511, -0.0116621074, 0.0063854953, 0.0044114238, 0.0065509137]),
    "jsd:beta=0.5": (0.0470403896, [-0.0281621804, 0.0093553025, -0.0255190540, 0.0140843139, 0.0106384566, 0.0196031613]),
    "jsd:beta=0.9": (0.0166265969, [-0.0098944233, 0.0019081174, -0.0080146076, 0.0040148839, 0.0034424046, 0.0085436250]),
    "tvd": (0.2630132970, [-0.1050444880, 0.0567681054, -0.0521635490, 0.0513659059, 0.0281902069, 0.0208838189]),
    "skl:alpha=0.1": (0.1586961935, [-0.0949539368, 0.0407697950, -0.0965396279, 0.0536309084, 0.0378692036, 0.0592236576]),
    "srkl:alpha=0.1": (0.1494720539, [-0.0891086459, 0.0207533818, -0.0739204816, 0.0386971083, 0.0318771239, 0.0717015135]),
    "srkl:alpha=0.1,detach=true": (0.1494720539, [-0.0989442334, 0.0190811739, -0.0801460757, 0.0401488393, 0.0344240459, 0.0854362500]),
    "ab:alpha=0.2,beta=0.7": (0.2317579026, [-0.1339399181, 0.0300337575, -0.1216851708, 0.0562250811, 0.0504190634, 0.1189471869]),
    "ab:alpha=0.5,beta=0.5": (0.1917003812, [-0.1142014598, 0.0384221527, -0.1078799984, 0.0574848076, 0.0434086925, 0.0827658053]),
    "ab:alpha=0.8,beta=0.3": (0.1608200749, [-0.0983977275, 0.0427443729, -0.0970802695, 0.0563803246, 0.0374310342, 0.0589222652]),
    "alpha:alpha=0.5": (0.1917003812, [-0.1142014598, 0.0384221527, -0.1078799984, 0.0574848076, 0.0434086925, 0.0827658053]),
    "akl:mu=0.5": (0.1923904897, [-0.1140617791, 0.0326098694, -0.1061173053, 0.0534697282, 0.0421373324, 0.0919621545]),
    "taid:t=0.4": (0.0289963346, [-0.0474033416, 0.0142363041, -0.0431051708, 0.0226848861, 0.0176189593, 0.0359683628]),
    "amid:alpha=0.5,lambda=0.5": (0.0510515326, [-0.0298185237, 0.0165916488, -0.0356216549, 0.0195380950, 0.0129163107, 0.0163941241]),
    "amid:alpha=-1,lambda=0.5": (0.0447025028, [-0.0266567581, 0.0043106890, -0.0198607854, 0.0103334069, 0.0091422947, 0.0227311528]),
    "amid:alpha=1,lambda=0.5": (0.0537083252, [-0.0307571921, 0.0211571247, -0.0424343341, 0.0229966963, 0.0143822786, 0.0146554265]),
    "amid:alpha=0.5,lambda=0.5,div=ab": (0.0612136433, None),  # §15 "extra checks": the value only
    "hinton:T=2,a=0.5,label=0": (1.1392616337, [-0.4957218532, 0.1695127235, -0.0532343465, 0.1639128029, 0.1028192912, 0.1127113822]),
}
ZERO = (0.0, [0.0] * 6)


def endpoint_cases():
    """AMiD at λ = 0 and λ = 1 (§10.1: r = q, r = p), every order, read off the table: D(p, q) is FKL,
    D(q, p) RKL, D(x, x) = 0 with a zero gradient (λ = 1 with pr or rp leaves nothing that depends on
    the student; λ = 0 with qr or rq compares q with itself). The mixture's α plays no part there."""
    same = {"fkl": SPEC_TABLE["fkl"], "rkl": SPEC_TABLE["rkl"], "ab": SPEC_TABLE["ab:alpha=0.2,beta=0.7"]}
    cases = {}
    for alpha in ("0.5", "-1", "1", "3"):
        for lam, order, what in [
            ("1", "pr", "zero"), ("1", "rp", "zero"), ("1", "qr", "rkl"), ("1", "rq", "fkl"),
            ("0", "pr", "fkl"), ("0", "rp", "rkl"), ("0", "qr", "zero"), ("0", "rq", "zero"),
        ]:
            cases[f"amid:alpha={alpha},lambda={lam},div=fkl,order={order}"] = ZERO if what == "zero" else same[what]
    # div=ab (0.2, 0.7): D_AB(p‖q) at λ = 0 / pr; D(p, p) = 0 at λ = 1 / pr and rp.
    cases["amid:lambda=0,div=ab,order=pr"] = same["ab"]
    cases["amid:lambda=1,div=ab,order=pr"] = ZERO
    cases["amid:lambda=1,div=ab,order=rp"] = ZERO
    return cases


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))


def find_kdviz(path):
    """The kdviz binary to compare with: --kdviz, else target/release/kdviz beside this script's
    repository, else `kdviz` on PATH; None when there is none."""
    import os
    import shutil

    if path:
        return path if os.access(path, os.X_OK) else None
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "kdviz")
    if os.access(here, os.X_OK):
        return os.path.normpath(here)
    return shutil.which("kdviz")


def kdviz_eval(kdviz, spec, u, z):
    """kdviz's f64 value and gradient, or an error string."""
    import subprocess

    fmt = lambda v: ",".join(repr(float(x)) for x in v)  # noqa: E731
    cmd = [kdviz, "eval", "--div", spec, f"--teacher-logits={fmt(u)}", f"--student-logits={fmt(z)}", "--json"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{type(e).__name__}: {e}"
    if out.returncode != 0:
        return f"exit {out.returncode}: {out.stderr.strip()}"
    got = json.loads(out.stdout)
    return got["value"], got["grad"]


def check(args, torch):
    """The torch mirror in float64 against the spec's table (and the AMiD endpoints derived from it),
    then, when a kdviz binary is found, against `kdviz eval` on the spec vectors and on a random row.
    Returns the number of failures."""
    tol = 1e-9
    failures = 0
    f64 = torch.float64

    def mirror(spec, u, z):
        name, prm = parse_spec(spec)
        f = make_divergence(name, prm, torch, f64)
        t = torch.tensor([u], dtype=f64)
        zz = torch.tensor([z], dtype=f64, requires_grad=True)
        value, grad = value_and_grad(f, t, zz, torch)
        return float(value.detach()), grad[0].tolist()

    def report(source, spec, got, want):
        nonlocal failures
        if isinstance(want, str):
            print(f"FAIL  {source:<12} {spec}: kdviz eval failed: {want}")
            failures += 1
            return
        value, grad = got
        w_value, w_grad = want
        bad = [] if close(value, w_value, tol) else [f"value {value!r} != {w_value!r}"]
        if w_grad is not None:
            diff = max(abs(a - b) for a, b in zip(grad, w_grad))
            if diff > tol or len(grad) != len(w_grad):
                bad.append(f"gradient off by {diff:.3g}: {grad} != {w_grad}")
        if abs(sum(grad)) > 1e-12:
            bad.append(f"gradient sums to {sum(grad):.3g}, not 0")
        failures += bool(bad)
        print(f"{'FAIL' if bad else 'ok':<5} {source:<12} {spec}" + ("".join(f"\n      {b}" for b in bad)))

    print(f"torch {torch.__version__}, float64 on the CPU; tolerance {tol:g} (relative above 1)")
    cases = dict(SPEC_TABLE)
    cases.update(endpoint_cases())
    for spec, want in cases.items():
        try:
            got = mirror(spec, CHECK_U, CHECK_Z)
        except Exception as e:  # a raise here is exactly what --check is for
            print(f"FAIL  {'spec table':<12} {spec}: {type(e).__name__}: {first_line(e)}")
            failures += 1
            continue
        report("spec table", spec, got, want)

    kdviz = find_kdviz(args.kdviz)
    if kdviz is None:
        print("kdviz: no binary found (--kdviz, target/release/kdviz or PATH); the comparison with `kdviz eval` is skipped")
    else:
        print(f"kdviz: {kdviz} (`kdviz eval --json`, f64)")
        gen = torch.Generator().manual_seed(args.seed)
        u = (3.0 * torch.randn(64, generator=gen, dtype=f64)).tolist()
        z = [a + b for a, b in zip(u, torch.randn(64, generator=gen, dtype=f64).tolist())]
        specs = list(cases) + [s for s in DEFAULT_SPECS if s not in cases]
        for label, uu, zz in [("spec vector", CHECK_U, CHECK_Z), ("random V=64", u, z)]:
            for spec in specs:
                want = kdviz_eval(kdviz, spec, uu, zz)
                try:
                    got = mirror(spec, uu, zz)
                except SpecError as e:  # outside the mirror's closed forms (stated in the docstring)
                    print(f"skip  {label:<12} {spec}: {e}")
                    continue
                except Exception as e:
                    print(f"FAIL  {label:<12} {spec}: {type(e).__name__}: {first_line(e)}")
                    failures += 1
                    continue
                if not isinstance(want, str):
                    want = (want[0], want[1])
                report(label, spec, got, want)
    print(f"{len(cases)} spec cases; {failures} failed")
    return failures


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="PyTorch eager / torch.compile / Liger-Kernel timings of kdviz's divergences",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--rows", type=int, default=512, help="N, rows (token positions)")
    ap.add_argument("--vocab", type=int, default=32768, help="V, classes per row")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32", help="storage of the logits")
    ap.add_argument("--div", action="append", help="divergence spec (repeatable); default: every family's default")
    ap.add_argument("--impl", default="eager,compile,liger", help="comma-separated: eager, compile, liger")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per divergence (median reported)")
    ap.add_argument("--compile-mode", default=None, help="torch.compile mode, e.g. max-autotune")
    ap.add_argument("--device", default=None, help="cuda (default when available) or cpu (smoke test)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="also write the JSON object to FILE, rewritten after every row (\"complete\": false until the end)",
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="no timing: check the formulas in float64 against the spec's test vectors (divergences.md "
        "§15, the AMiD λ = 0 and λ = 1 endpoints included) and against `kdviz eval` when a binary is found; "
        "exit 1 on any mismatch",
    )
    ap.add_argument("--kdviz", default=None, help="kdviz binary for --check (default: target/release/kdviz, PATH)")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.vocab < 2 or args.repeats < 1:
        ap.error("expected --rows >= 1, --vocab >= 2, --repeats >= 1")
    if args.rows * args.vocab > 1 << 31:
        ap.error(f"--rows {args.rows} x --vocab {args.vocab} is over 2^31 logits (kdviz gpu bench's limit)")
    bad_impl = [i for i in args.impl.split(",") if i.strip() not in ("eager", "compile", "liger", "")]
    if bad_impl:
        ap.error(f"--impl {','.join(bad_impl)}: expected a comma-separated list of eager, compile, liger")
    try:
        import torch
    except ImportError:
        sys.exit("torch_bench: PyTorch is not installed; expected `pip install torch` (and liger-kernel, optional)")
    if args.check:
        sys.exit(1 if check(args, torch) else 0)
    if args.device is None:
        if not torch.cuda.is_available():
            sys.exit("torch_bench: no CUDA device; expected a CUDA GPU (or --device cpu for a smoke test)")
        args.device = "cuda"
    try:
        result = run(args, torch)
    except SpecError as e:
        sys.exit(f"torch_bench: --div {e}")
    if args.json:
        if result["liger"]["requested"] and not result["liger"]["available"]:
            print(f"torch_bench: {liger_line(result)}", file=sys.stderr)
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
