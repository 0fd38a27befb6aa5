# type: socket_filter
# expect: accept
# kernel: accept
r1 = 42
*(u64 *)(r10 - 8) = r1
r0 = *(u64 *)(r10 - 8)
exit
