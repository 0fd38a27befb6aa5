#!/bin/sh
# Rebuilds the corpus objects from their C sources. The .o files are checked in so the
# tests need no compiler; rerun this after changing a source, then re-bless the expected
# results from the kernel (BPFKIT_BLESS=1 cargo test -p bpfkit-runtime --test corpus).
# Needs clang (14 or later), clang-19 for the -mcpu=v4 programs, libbpf-dev and
# linux-libc-dev.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
CLANG19=${CLANG19:-clang-19}
for src in *.c; do
	case "$src" in
	v4_*) "$CLANG19" -O2 -g -target bpf -mcpu=v4 -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o" ;;
	*) "$CLANG" -O2 -g -target bpf -mcpu=v3 -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o" ;;
	esac
done
