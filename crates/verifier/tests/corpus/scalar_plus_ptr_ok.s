# type: socket_filter
# expect: accept
# kernel: accept
r2 = -8
r2 += r10
*(u64 *)(r2 + 0) = 0
r0 = *(u64 *)(r10 - 8)
exit
