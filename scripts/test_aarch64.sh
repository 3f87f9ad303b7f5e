#!/usr/bin/env bash
# The CPU numerics on aarch64 (the NEON backend of src/math/simd/, the f32 row engine and the CPU
# trainer), cross-compiled on an x86-64 machine and run under qemu user-mode emulation: the math and
# real::train unit tests, once on the best backend (NEON) and once with KDVIZ_SIMD=scalar.
# Not part of .ci/run. Timings under qemu mean nothing.
#
# Needs:
#   rustup target add aarch64-unknown-linux-gnu
#   the cross linker and C library, and qemu (Debian/Ubuntu):
#     apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
#
# Usage: scripts/test_aarch64.sh [extra cargo test options, e.g. --release]
# The first run builds every dependency for aarch64 (long on a small machine).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu"
target=(--target aarch64-unknown-linux-gnu --lib)

for simd in "" scalar; do
  echo "== KDVIZ_SIMD=${simd:-(unset: neon)}"
  KDVIZ_SIMD="$simd" cargo test "${target[@]}" math:: "$@"
  KDVIZ_SIMD="$simd" cargo test "${target[@]}" real::train "$@"
done
