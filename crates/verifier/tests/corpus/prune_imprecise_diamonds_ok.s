# type: socket_filter
# expect: accept
# note: 24 undecided diamonds: 2^24 paths unless states differing only in values that never matter are pruned
# kernel: accept
r6 = *(u32 *)(r1 + 0)
r7 = 0
if r6 & 1 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 2 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 4 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 8 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 16 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 32 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 64 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 128 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 256 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 512 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 1024 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 2048 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 4096 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 8192 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 16384 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 32768 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 65536 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 131072 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 262144 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 524288 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 1048576 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 2097152 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 4194304 goto +2
r7 = 1
goto +1
r7 = 2
if r6 & 8388608 goto +2
r7 = 1
goto +1
r7 = 2
*(u64 *)(r10 - 8) = r7
r0 = 0
exit
