# type: socket_filter
# expect: accept
# kernel: accept
r1 = -3
*(u8 *)(r10 - 8) = r1
r2 = *(s8 *)(r10 - 8)
r2 += 3
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
