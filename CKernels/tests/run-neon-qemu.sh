#!/usr/bin/env bash
# run-neon-qemu.sh — cross-builds CKernels + the C test driver for aarch64 and runs it under qemu-user, so the NEON variant is checked on an x86 machine.
#
# Usage: CKernels/tests/run-neon-qemu.sh [seed] [-v]     (arguments go to the driver)
# Needs (Debian/Ubuntu): gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
# Environment: CC (default aarch64-linux-gnu-gcc), QEMU (default qemu-aarch64),
#              CFLAGS (default -O2).
# Exit status: non-zero if the build fails, if the driver reports any failure,
# or if the build did not test both the scalar and the neon variant.
# Timings are meaningless under emulation: this checks correctness only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cc="${CC:-aarch64-linux-gnu-gcc}"
qemu="${QEMU:-qemu-aarch64}"
cflags="${CFLAGS:--O2}"

for tool in "$cc" "$qemu"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-neon-qemu: '$tool' not found; install gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" >&2
        exit 2
    fi
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
# shellcheck disable=SC2086  # cflags is a list of flags
"$cc" $cflags -std=c11 -Wall -Wextra -static -ICKernels/include \
    CKernels/src/*.c CKernels/src/*/*.c CKernels/tests/test_kernels.c -lm \
    -o "$work/test_kernels"

start=$(date +%s)
status=0
"$qemu" "$work/test_kernels" "$@" >"$work/out" || status=$?
elapsed=$(( $(date +%s) - start ))
cat "$work/out"

# The driver only tests the variants the build registered: make sure NEON was one.
variants="$(grep -m1 'variants:' "$work/out" || true)"
for v in scalar neon; do
    if ! grep -qE "variants:.* $v( |$)" <<<"$variants"; then
        echo "run-neon-qemu: variant '$v' was not tested (${variants:-no variants line})" >&2
        status=1
    fi
done
if ! tail -n 1 "$work/out" | grep -qE '^[0-9]+ passed, 0 failed$'; then
    status=1
fi
echo "run-neon-qemu: $(tail -n 1 "$work/out") under $qemu in ${elapsed}s (exit $status)"
exit "$status"
