#!/bin/sh
# Rebuilds proto_count.o (checked in, so running the example needs no compiler).
# Needs clang, libbpf-dev (bpf/bpf_helpers.h) and linux-libc-dev.
set -eu
cd "$(dirname "$0")"
${CLANG:-clang} -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c proto_count.c -o proto_count.o
