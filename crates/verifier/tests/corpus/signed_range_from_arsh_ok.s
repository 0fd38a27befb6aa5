# type: socket_filter
# expect: accept
# kernel: accept
r1 = *(u32 *)(r1 + 0)
r1 <<= 56
r1 s>>= 60
r1 += 8
r2 = r10
r2 += -16
r2 += r1
*(u8 *)(r2 + 0) = 0
r0 = 0
exit
