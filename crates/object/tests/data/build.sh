#!/bin/sh
# Rebuilds the checked-in test objects from their C sources.
# Needs clang (any version >= 14), libbpf-dev (bpf/bpf_helpers.h) and
# linux-libc-dev (linux/bpf.h). The .o files are committed so that tests
# do not depend on a compiler; rerun this only after changing a source.
# regress_*.o are fuzzer-found inputs, not compiled from C.
set -eu
cd "$(dirname "$0")"
CLANG=${CLANG:-clang}
for src in *.c; do
	"$CLANG" -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "${src%.c}.o"
done
