# type: socket_filter
# expect: accept
# kernel: accept
*(u64 *)(r10 - 512) = 0
r0 = *(u64 *)(r10 - 512)
exit
