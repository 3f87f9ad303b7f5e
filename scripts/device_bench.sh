#!/usr/bin/env bash
# The GPU measured (issue 15 item 4), in ONE call of the device tool's `run` of at most 8 minutes:
# `kdviz gpu info`; `kdviz gpu bench --rows 4096 --vocab 131072` in f32, f16 and bf16 for every family;
# scripts/torch_bench.py eager + Liger-Kernel and eager + torch.compile for fkl, rkl, jsd, tvd, akl;
# `kdviz real` training a free student at 4096 × 131072 (f32, GPU backend). Each step has its own
# timeout inside one overall budget, so a hanging step costs its own time only; a step that cannot run
# prints a line saying what was skipped and why. Results go to $OUT: log.txt, summary.txt and
# results.tar.gz, which holds the JSON files (the device tool returns at most 8 files):
#
#   log.txt                 everything printed, each step's output included
#   summary.txt             one line per step (ok / failed / timed out / skipped: why, seconds), then
#                           the tables of scripts/device_bench_report.py
#   results.tar.gz: the JSON files below
#   gpu_info.json           kdviz gpu info --json
#   gpu_bench_f32.json      kdviz gpu bench --json, f32 storage
#   gpu_bench_f16.json      the same, f16 storage
#   gpu_bench_bf16.json     the same, bf16 storage (two logits per 32-bit word)
#   torch_eager_f32.json    torch_bench --impl eager,liger (liger reported as missing if it is)
#   torch_compile_f32.json  torch_bench --impl eager,compile
#   torch_eager_bf16.json   torch_bench --impl eager --dtype bf16 (against gpu_bench_bf16.json)
#   real_free.json          kdviz real --json (free student; fkl, rkl, tvd; the fused epoch)
#   real_free_separate.json the same for fkl with --gpu-epoch separate (Adam, loss, metrics kernels)
#
# ---- Prepare HERE, in the checkout the session was started in (the repo root), before the call ----
#
#   cargo build --release
#   mkdir -p dist && strip -o dist/kdviz target/release/kdviz     # stripped, so the tree stays < 64 MiB
#   # The Vulkan loader (and GL libraries), as /work/.library/device/README.md says (.gl is ignored):
#   mkdir -p .gl /tmp/amd64/partial
#   o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
#   apt-get $o update && (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
#   # Liger-Kernel, optional (pure Python + Triton; the machine has torch and triton; .whl is ignored):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl liger-kernel==0.8.5
#   bash scripts/device_bench.sh --dry-run    # checks the above and the size of what travels; runs nothing
#
# dist/ is ignored by git (.gitignore): it travels only because `carry` names it. The binary is built on
# Debian 12 (glibc 2.36); the device image is newer, so it runs there (ldd's "not found" lines are logged).
#
# ---- The call (one; the machine's start is not counted in timeout_s) ----
#
#   run(command="bash scripts/device_bench.sh", carry=["dist", ".gl", ".whl"], timeout_s=480)
#
# The script ends by itself within KDVIZ_BENCH_BUDGET_S (default 450 s) of its start, so its files come
# back before the tool's limit. Then give_back, unless you rerun at once. The tables for BENCHMARKS.md:
# `python3 scripts/device_bench_report.py FILES_AT` here (it is also in summary.txt).
#
# Overrides (for a smoke test here, without a GPU: KDVIZ_BENCH_ROWS=64 KDVIZ_BENCH_VOCAB=4096):
#   KDVIZ (default dist/kdviz, else target/release/kdviz), PYTHON (python3), KDVIZ_BENCH_ROWS (4096),
#   KDVIZ_BENCH_VOCAB (131072), KDVIZ_BENCH_BUDGET_S (450), KDVIZ_BENCH_REAL_EPOCHS (10),
#   OUT (default: a new folder under /tmp, printed).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
ROWS=${KDVIZ_BENCH_ROWS:-4096}
VOCAB=${KDVIZ_BENCH_VOCAB:-131072}
BUDGET=${KDVIZ_BENCH_BUDGET_S:-450}
EPOCHS=${KDVIZ_BENCH_REAL_EPOCHS:-10}
PYTHON=${PYTHON:-python3}
TORCH_DIVS=(--div fkl --div rkl --div jsd:beta=0.5 --div tvd --div akl:mu=0.5)
if [ -z "${KDVIZ:-}" ]; then
  KDVIZ=dist/kdviz
  [ -x "$KDVIZ" ] || [ ! -x target/release/kdviz ] || KDVIZ=target/release/kdviz
fi
START=$(date +%s)

# ---------------------------------------------------------------------------------------- --dry-run
if [ "${1:-}" = "--dry-run" ]; then
  ok=1
  say() { echo "dry-run: $*"; }
  if [ -x dist/kdviz ]; then
    if file dist/kdviz 2>/dev/null | grep -q 'not stripped'; then say "dist/kdviz is NOT stripped: strip -o dist/kdviz target/release/kdviz"; ok=0; fi
    say "dist/kdviz $(du -h dist/kdviz | cut -f1), $(dist/kdviz --version 2>&1 | head -1)"
  else
    say "dist/kdviz is missing: cargo build --release && mkdir -p dist && strip -o dist/kdviz target/release/kdviz"; ok=0
  fi
  if ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then say ".gl: $(ls .gl | wc -l) packages ($(du -sh .gl | cut -f1))"
  else say ".gl/libvulkan1_*.deb is missing: without it the device may have no Vulkan loader (see the header)"; ok=0; fi
  if ls .whl/liger_kernel-*.whl >/dev/null 2>&1; then say "liger: $(ls .whl/liger_kernel-*.whl)"
  else say "no .whl/liger_kernel-*.whl: the Liger rows will say liger_kernel is missing (optional)"; fi
  git check-ignore -q dist/kdviz || say "warning: dist/ is not ignored by git here; it would travel without carry, and could be committed"
  # What travels: tracked and untracked-not-ignored files, plus the carried folders.
  tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  carried=$(du -cb dist .gl .whl 2>/dev/null | tail -1 | cut -f1)
  total=$(( ${tree:-0} + ${carried:-0} ))
  say "travels: $(( total / 1048576 )) MiB of the 64 MiB limit (tree $(( ${tree:-0} / 1048576 )), carried $(( ${carried:-0} / 1048576 )))"
  [ "$total" -lt $(( 64 * 1048576 )) ] || { say "over 64 MiB: the call would be refused"; ok=0; }
  [ "$ok" = 1 ] && say "ready: run(command=\"bash scripts/device_bench.sh\", carry=[\"dist\", \".gl\", \".whl\"], timeout_s=480)"
  [ "$ok" = 1 ]; exit
fi

if [ -z "${OUT:-}" ]; then
  OUT=$(mktemp -d /tmp/kdviz-device-bench.XXXXXX)
  echo "OUT is not set (not on the device machine): results go to $OUT"
fi
mkdir -p "$OUT"
export OUT
WORK=$(mktemp -d /tmp/kdviz-bench-work.XXXXXX)   # scratch (data, caches): never in $OUT, 8 files come back
SUMMARY=$WORK/summary.txt
: > "$SUMMARY"
exec > >(tee -a "$OUT/log.txt") 2>&1
TEE_PID=$!
export PYTHONUNBUFFERED=1

elapsed() { echo $(( $(date +%s) - START )); }
note() { echo "[$(elapsed)s] $*"; }
record() { printf '%-22s %s\n' "$1" "$2" >> "$SUMMARY"; note "$1: $2"; }
skip() { record "$1" "SKIPPED: $2"; }

# step NAME CAP_SECONDS CMD...: runs CMD under `timeout`, for at most CAP seconds and never past the budget
# (5 s kept for the report); records ok / failed (exit code) / timed out with its seconds.
step() {
  local name=$1 cap=$2; shift 2
  local left=$(( BUDGET - $(elapsed) - 5 ))
  local t=$(( cap < left ? cap : left ))
  if [ "$t" -lt 10 ]; then skip "$name" "out of time (${BUDGET}s budget, $(elapsed)s used)"; return 1; fi
  note "=== $name (timeout ${t}s): $*"
  local t0 rc
  t0=$(date +%s)
  timeout -k 5 "$t" "$@"
  rc=$?
  local dt=$(( $(date +%s) - t0 ))
  case $rc in
    0) record "$name" "ok, ${dt}s" ;;
    124|137) record "$name" "TIMED OUT after ${dt}s (its limit: ${t}s)" ;;
    *) record "$name" "FAILED, exit $rc, ${dt}s" ;;
  esac
  return $rc
}

finish() {
  note "=== report"
  {
    echo "device_bench.sh: ${ROWS} rows × ${VOCAB} classes, $(elapsed)s of a ${BUDGET}s budget"
    cat "$SUMMARY"
    echo
    "$PYTHON" scripts/device_bench_report.py "$OUT" 2>&1 || python3 scripts/device_bench_report.py "$OUT" 2>&1
  } > "$OUT/summary.txt"
  cat "$OUT/summary.txt"
  # The JSON files in one archive: the device tool returns at most 8 files (the report reads either).
  ( cd "$OUT" && ls -- *.json >/dev/null 2>&1 && tar -czf results.tar.gz -- *.json && rm -f -- *.json )
  rm -rf "$WORK"
  note "done"
  exec >&- 2>&-
  wait "$TEE_PID" 2>/dev/null   # log.txt complete before the files are taken back
}
trap finish EXIT

# ---------------------------------------------------------------------------------------- environment
note "=== environment"
uname -a
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
"$PYTHON" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1

# The Vulkan loader: where the machine has none (the device README: "if `ldconfig -p | grep libvulkan`
# prints nothing there, bring the loaders"), the carried .deb files unpacked into /; then the NVIDIA ICD
# named explicitly when its manifest is where the README says. A machine that has a loader (this
# one, a developer's) is left alone.
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  record "vulkan-loader" "the machine's libvulkan.so.1 ($(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //'))"
elif ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" / || note "dpkg -x $f failed"; done
  ldconfig
  if ldconfig -p | grep -q 'libvulkan\.so\.1'; then
    record "vulkan-loader" "unpacked $(ls .gl/*.deb | wc -l) packages from .gl"
  else
    record "vulkan-loader" "FAILED: .gl unpacked but ldconfig knows no libvulkan.so.1; kdviz will find no GPU"
  fi
else
  record "vulkan-loader" "MISSING: no libvulkan.so.1 on the machine and no .gl/*.deb carried; kdviz will find no GPU"
fi
icd=""
for c in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$c" ] && { icd=$c; break; }
done
if [ -n "$icd" ]; then
  export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
  egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
  record "nvidia-icd" "$icd"
else
  record "nvidia-icd" "no nvidia_icd.json found; the Vulkan loader searches its defaults"
fi
export WGPU_BACKEND=vulkan XDG_RUNTIME_DIR=/tmp/kdviz-xdg
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

# kdviz: the carried binary, and whether it runs here.
have_kdviz=0
gpu=0
if [ ! -x "$KDVIZ" ]; then
  record "kdviz" "MISSING: no $KDVIZ (build and strip it before the call, carry dist: see the header)"
elif ! "$KDVIZ" --version >/dev/null 2>&1; then
  missing=$(ldd "$KDVIZ" 2>&1 | grep 'not found' | tr -s ' \t\n' ' ')
  record "kdviz" "DOES NOT RUN here: $("$KDVIZ" --version 2>&1 | head -1) ${missing:+(missing: $missing)}"
else
  have_kdviz=1
  record "kdviz" "$("$KDVIZ" --version 2>&1 | head -1) ($KDVIZ)"
  ldd "$KDVIZ" | grep 'not found' && note "(libraries above are not found; kdviz loads Vulkan at run time)"
fi

# ---------------------------------------------------------------------------------------- kdviz gpu
if [ "$have_kdviz" = 1 ]; then
  step "gpu-info" 30 "$KDVIZ" gpu info
  if step "gpu-info-json" 30 "$KDVIZ" gpu info --json --out "$OUT/gpu_info.json"; then gpu=1; fi
fi
if [ "$gpu" = 1 ]; then
  step "gpu-bench-f32" 120 "$KDVIZ" gpu bench --rows "$ROWS" --vocab "$VOCAB" --dtype f32 --repeats 10 \
    --json --out "$OUT/gpu_bench_f32.json"
  step "gpu-bench-f16" 100 "$KDVIZ" gpu bench --rows "$ROWS" --vocab "$VOCAB" --dtype f16 --repeats 10 \
    --json --out "$OUT/gpu_bench_f16.json"
  step "gpu-bench-bf16" 80 "$KDVIZ" gpu bench --rows "$ROWS" --vocab "$VOCAB" --dtype bf16 --repeats 10 \
    --json --out "$OUT/gpu_bench_bf16.json"
else
  why="kdviz sees no GPU (gpu info failed above)"
  [ "$have_kdviz" = 1 ] || why="no runnable kdviz binary"
  skip "gpu-bench-f32" "$why"
  skip "gpu-bench-f16" "$why"
  skip "gpu-bench-bf16" "$why"
fi

# ---------------------------------------------------------------------------------------- PyTorch
torch_ok=0
if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  torch_ok=1
elif [ -n "${KDVIZ_BENCH_TORCH_DEVICE:-}" ]; then
  torch_ok=1   # a smoke test elsewhere: --device cpu
  note "torch: no CUDA; KDVIZ_BENCH_TORCH_DEVICE=$KDVIZ_BENCH_TORCH_DEVICE"
fi
if [ "$torch_ok" = 1 ]; then
  TORCH_ARGS=(--rows "$ROWS" --vocab "$VOCAB" --dtype f32 --repeats 10 "${TORCH_DIVS[@]}")
  [ -n "${KDVIZ_BENCH_TORCH_DEVICE:-}" ] && TORCH_ARGS+=(--device "$KDVIZ_BENCH_TORCH_DEVICE")
  # Liger-Kernel from a carried wheel, installed beside (not into) the image's packages.
  liger_path=""
  if ls .whl/liger_kernel-*.whl >/dev/null 2>&1; then
    if "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$WORK/site" .whl/liger_kernel-*.whl; then
      liger_path=$WORK/site
      record "liger-wheel" "installed $(basename .whl/liger_kernel-*.whl)"
    else
      record "liger-wheel" "FAILED to install $(ls .whl/liger_kernel-*.whl); the liger rows will say why"
    fi
  else
    record "liger-wheel" "none carried (.whl/liger_kernel-*.whl); the liger rows will say liger_kernel is missing"
  fi
  # --out is rewritten after every row: a step cut short keeps the rows it finished ("complete": false).
  step "torch-eager-liger" 90 env PYTHONPATH="${liger_path}${PYTHONPATH:+:$PYTHONPATH}" \
    "$PYTHON" scripts/torch_bench.py --impl eager,liger "${TORCH_ARGS[@]}" --out "$OUT/torch_eager_f32.json"
  export TORCHINDUCTOR_CACHE_DIR=$WORK/inductor
  step "torch-compile" 180 \
    "$PYTHON" scripts/torch_bench.py --impl eager,compile "${TORCH_ARGS[@]}" --out "$OUT/torch_compile_f32.json"
  # Last: PyTorch eager in bf16 against kdviz's bf16 storage (what the budget leaves).
  BF16_ARGS=(--rows "$ROWS" --vocab "$VOCAB" --dtype bf16 --repeats 10 "${TORCH_DIVS[@]}")
  [ -n "${KDVIZ_BENCH_TORCH_DEVICE:-}" ] && BF16_ARGS+=(--device "$KDVIZ_BENCH_TORCH_DEVICE")
  step "torch-eager-bf16" 60 \
    "$PYTHON" scripts/torch_bench.py --impl eager "${BF16_ARGS[@]}" --out "$OUT/torch_eager_bf16.json"
else
  skip "torch-eager-liger" "$PYTHON has no torch with CUDA"
  skip "torch-compile" "$PYTHON has no torch with CUDA"
  skip "torch-eager-bf16" "$PYTHON has no torch with CUDA"
fi

# ---------------------------------------------------------------------------------------- kdviz real
# Training at the bench's size: teacher N(0, 3²), student = teacher + N(0, 1) as in `gpu bench`,
# written as .npy f32 (the builtin teacher is 2,048 × 5,751 only). --backend gpu: fail rather than
# train on the CPU.
if [ "$gpu" = 1 ] && ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
  skip "real-free" "$PYTHON has no numpy to write the teacher and student logits"
elif [ "$gpu" = 1 ]; then
  if step "real-data" 60 "$PYTHON" - "$WORK" "$ROWS" "$VOCAB" <<'EOF'
import sys
import numpy as np
work, n, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
t = np.lib.format.open_memmap(f"{work}/teacher.npy", mode="w+", dtype="<f4", shape=(n, v))
s = np.lib.format.open_memmap(f"{work}/student.npy", mode="w+", dtype="<f4", shape=(n, v))
step = max(1, (1 << 24) // v)
for lo in range(0, n, step):
    hi = min(n, lo + step)
    t[lo:hi] = 3.0 * rng.standard_normal((hi - lo, v), dtype=np.float32)
    s[lo:hi] = t[lo:hi] + rng.standard_normal((hi - lo, v), dtype=np.float32)
t.flush(); s.flush()
print(f"wrote {n} x {v} teacher and student logits (f32 .npy) to {work}")
EOF
  then
    step "real-free" 150 "$KDVIZ" real --input "$WORK/teacher.npy" --student-input "$WORK/student.npy" \
      --div fkl --div rkl --div tvd --student free --epochs "$EPOCHS" --backend gpu --json --out "$OUT/real_free.json"
    step "real-free-separate" 60 "$KDVIZ" real --input "$WORK/teacher.npy" --student-input "$WORK/student.npy" \
      --div fkl --student free --epochs "$EPOCHS" --backend gpu --gpu-epoch separate --json --out "$OUT/real_free_separate.json"
  else
    skip "real-free" "its data could not be written (real-data above)"
  fi
  rm -f "$WORK/teacher.npy" "$WORK/student.npy"
else
  skip "real-free" "${why:-kdviz sees no GPU}"
fi
