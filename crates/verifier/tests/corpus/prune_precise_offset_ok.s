# type: socket_filter
# expect: accept
# note: the value set at each diamond is later a stack offset: precise, two states per join
# kernel: accept
r6 = *(u32 *)(r1 + 0)
r7 = 0
if r6 & 1 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 2 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 4 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 8 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 16 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 32 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 64 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 128 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 256 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 512 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 1024 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 2048 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 4096 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 8192 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 16384 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 32768 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 65536 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 131072 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 262144 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 524288 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 1048576 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 2097152 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 4194304 goto +2
r7 = 8
goto +1
r7 = 16
if r6 & 8388608 goto +2
r7 = 8
goto +1
r7 = 16
r2 = r10
r2 += -16
r2 += r7
r0 = *(u8 *)(r2 - 1)
exit
