#!/bin/sh
# Regenerates the checked-in eBPF bytecode of progs.c: one raw .bin per function section.
# Needs clang and llvm-objcopy (LLVM 14 or later). Run from this directory.
set -e
clang -O2 -target bpf -mcpu=v2 -c progs.c -o progs.o
for f in checksum hash sieve memcpy; do
	llvm-objcopy -O binary --only-section="bench/$f" progs.o "$f.bin"
done
rm progs.o
