# type: socket_filter
# expect: accept
# kernel: accept
*(u64 *)(r10 - 8) = 0
*(u64 *)(r10 - 16) = 0
r0 = *(u32 *)(r1 + 0)
r0 &= 8
r2 = r10
r2 += -16
r2 += r0
r0 = *(u64 *)(r2 + 0)
exit
