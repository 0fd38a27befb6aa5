# type: socket_filter
# expect: accept
# kernel: accept
r1 = 0
loop:
r2 = r10
r2 += -64
r3 = r1
r3 <<= 3
r2 += r3
*(u64 *)(r2 + 0) = r1
r1 += 1
if r1 < 8 goto loop
r0 = *(u64 *)(r10 - 8)
exit
