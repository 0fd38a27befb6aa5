#!/bin/sh
# Rebuilds the BPF objects that tests/llvm_objdump.rs compares against llvm-objdump.
# Objects named *.llvm19.o are checked with llvm-objdump-19 (they hold instructions
# LLVM 14 cannot disassemble); the others with llvm-objdump (LLVM 14).
#
# Needs clang (14), clang-19 and python3. Run from anywhere:  sh tests/data/build.sh
set -eu
cd "$(dirname "$0")"

CFLAGS="-O2 -g -target bpf -I/usr/include/x86_64-linux-gnu"

python3 gen_forms.py

clang $CFLAGS -mcpu=v2 -c alu.c -o alu.v2.o
clang $CFLAGS -mcpu=v3 -c alu.c -o alu.v3.o
clang $CFLAGS -mcpu=v2 -c mem.c -o mem.v2.o
clang $CFLAGS -mcpu=v3 -c mem.c -o mem.v3.o
clang $CFLAGS -mcpu=v3 -c atomics.c -o atomics.v3.o
clang-19 $CFLAGS -mcpu=v4 -c v4.c -o v4.llvm19.o
# LLVM 14's assembler rejects its own atomic_fetch_*/xchg/cmpxchg syntax, so the forms
# are assembled by clang-19; the disassembly is still checked with LLVM 14.
clang-19 -target bpf -mcpu=v3 -c forms14.s -o forms14.o
clang-19 -target bpf -mcpu=v4 -c forms19.s -o forms19.llvm19.o
