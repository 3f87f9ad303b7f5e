#!/usr/bin/env python3
"""The forward+backward of every kdviz divergence in PyTorch, for side-by-side timing with
`kdviz gpu bench` on the same GPU.

For each divergence spec (kdviz's spec strings, e.g. `jsd:beta=0.5`) it times, over N rows of V
classes, the per-row divergence summed over rows and its gradient w.r.t. the student logits:

  eager     plain PyTorch (autograd), float32 arithmetic
  compile   the same function under torch.compile (forward and backward compiled)
  liger     Liger-Kernel's fused losses where one exists and `liger_kernel` is importable:
            fkl (LigerKLDIVLoss), jsd (LigerJSD), tvd (LigerTVDLoss); log_softmax/softmax of the
            logits are done by PyTorch in front of them and are part of the timed step

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
fixed t only (no schedule); amid supports div=fkl and div=ab with every order.

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


def make_divergence(name, prm, torch):
    """A function (teacher_logits, student_logits) -> per-row divergence [N], float32."""
    F = torch.nn.functional

    def kl(lx, ly):
        """KL(x||y) per row from log-probabilities; 0·log 0 = 0."""
        x = lx.exp()
        return torch.where(x > 0, x * (lx - ly), torch.zeros_like(x)).sum(-1)

    def logs(t, z):
        return F.log_softmax(t.float(), -1), F.log_softmax(z.float(), -1)

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
            return make_divergence("fkl", {}, torch)
        if beta == 1.0:
            return make_divergence("rkl", {}, torch)
        scale = 1.0 / (beta * (1.0 - beta)) if norm else 1.0

        def jsd(t, z):
            lp, lq = logs(t, z)
            lm = mix(lp, lq, beta)
            return scale * (beta * kl(lp, lm) + (1.0 - beta) * kl(lq, lm))

        return jsd
    if name == "skl":
        a = prm["alpha"]
        if a == 0.0:
            return make_divergence("fkl", {}, torch)

        def skl(t, z):
            lp, lq = logs(t, z)
            return kl(lp, mix(lp, lq, a))

        return skl
    if name == "srkl":
        a, detach = prm["alpha"], prm["detach"]
        if a == 0.0:
            return make_divergence("rkl", {}, torch)

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
            return div(x, y)

        return amid
    if name == "hinton":
        temp, a, label = prm["T"], prm["a"], prm["label"]

        def hinton(t, z):
            lq = F.log_softmax(z.float(), -1)
            ce = -lq[:, label]
            lpt = F.log_softmax(t.float() / temp, -1)
            lqt = F.log_softmax(z.float() / temp, -1)
            return (1.0 - a) * ce + a * temp * temp * kl(lpt, lqt)

        return hinton
    raise SpecError(f"unknown divergence {name!r}")


def make_liger(name, prm, torch):
    """Liger-Kernel's fused loss for this divergence (sum over rows), or None."""
    try:
        import liger_kernel.transformers as lk
    except ImportError:
        return None
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
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]

    results = []
    for spec, name, prm in parsed:
        p = passes(name, prm)
        bpe = (2 * p + 1) * elem
        for impl in impls:
            row = {"divergence": spec, "impl": impl, "passes": p, "bytes_per_elem": bpe}
            try:
                if impl == "eager":
                    f = make_divergence(name, prm, torch)
                elif impl == "compile":
                    f = torch.compile(make_divergence(name, prm, torch), mode=args.compile_mode, dynamic=False)
                elif impl == "liger":
                    f = make_liger(name, prm, torch)
                    if f is None:
                        continue  # no Liger kernel for this divergence, or Liger not installed
                else:
                    raise SpecError(f"--impl {impl!r}; expected eager, compile or liger")
                z = student.detach().requires_grad_(True)
                value = {}

                def step(f=f, z=z, value=value):
                    loss = f(teacher, z)
                    loss = loss.sum() if loss.dim() > 0 else loss
                    (grad,) = torch.autograd.grad(loss, z)
                    value["loss"] = loss
                    return grad

                # compile: the first calls compile (not timed); two warm-ups settle autotuning
                ms = timer.time_ms(step, args.repeats, warmup=2 if impl == "compile" else 1)
                row.update(
                    ms=ms,
                    gbps=bpe * n * v / (ms * 1e-3) / 1e9,
                    fraction_of_copy_bandwidth=(bpe * n * v / (ms * 1e-3) / 1e9) / copy_gbps,
                    mean_value=float(value["loss"]) / n,
                )
                del z
            except Exception as e:  # an OOM, a compile failure or an unsupported case is a result, not the end
                row["error"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                if device.type == "cuda":
                    torch.cuda.empty_cache()
            results.append(row)

    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    return {
        "device": dev_name,
        "torch": torch.__version__,
        "liger_kernel": liger_version(),
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
    }


def liger_version():
    try:
        from importlib.metadata import version

        return version("liger-kernel")
    except Exception:
        return None


def print_table(r):
    print(f"device: {r['device']}  torch {r['torch']}  liger-kernel {r['liger_kernel'] or 'not installed'}")
    print(f"{r['rows']} rows x {r['vocab']} classes, {r['dtype']} storage, f32 arithmetic; {r['timing']}, median of {r['repeats']}")
    print(f"byte model: {r['byte_model']}")
    print(f"copy bandwidth: {r['copy_gbps']:.1f} GB/s (read+write {r['copy_bytes'] / 1e6:.1f} MB in {r['copy_ms']:.3f} ms)")
    print(f"{'divergence':<46} {'impl':<8} {'passes':>6} {'B/elem':>6} {'ms':>10} {'GB/s':>8} {'% copy':>7} {'mean value':>12}")
    for row in r["results"]:
        if "error" in row:
            print(f"{row['divergence']:<46} {row['impl']:<8} {row['passes']:>6} {row['bytes_per_elem']:>6}  {row['error']}")
            continue
        print(
            f"{row['divergence']:<46} {row['impl']:<8} {row['passes']:>6} {row['bytes_per_elem']:>6} "
            f"{row['ms']:>10.3f} {row['gbps']:>8.1f} {100 * row['fraction_of_copy_bandwidth']:>6.0f}% "
            f"{row['mean_value']:>12.6g}"
        )


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
    args = ap.parse_args(argv)
    if args.rows < 1 or args.vocab < 2 or args.repeats < 1:
        ap.error("expected --rows >= 1, --vocab >= 2, --repeats >= 1")
    if args.rows * args.vocab > 1 << 31:
        ap.error(f"--rows {args.rows} x --vocab {args.vocab} is over 2^31 logits (kdviz gpu bench's limit)")
    try:
        import torch
    except ImportError:
        sys.exit("torch_bench: PyTorch is not installed; expected `pip install torch` (and liger-kernel, optional)")
    if args.device is None:
        if not torch.cuda.is_available():
            sys.exit("torch_bench: no CUDA device; expected a CUDA GPU (or --device cpu for a smoke test)")
        args.device = "cuda"
    try:
        result = run(args, torch)
    except SpecError as e:
        sys.exit(f"torch_bench: --div {e}")
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
