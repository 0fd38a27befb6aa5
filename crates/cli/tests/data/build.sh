#!/bin/sh
# Rebuilds the checked-in objects of the CLI tests.
set -e
cd "$(dirname "$0")"
clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c run_memory.c -o run_memory.o
