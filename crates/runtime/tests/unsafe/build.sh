#!/bin/sh
# Rebuilds the deliberately unsafe objects of tests/verify.rs (checked in: the tests need no compiler).
set -eu
cd "$(dirname "$0")"
for src in *.c; do
	"${CLANG:-clang}" -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
