# type: socket_filter
# expect: reject "invalid size of register fill"
# kernel: reject "invalid size of register fill"
*(u64 *)(r10 - 8) = r1
r0 = *(u32 *)(r10 - 8)
exit
