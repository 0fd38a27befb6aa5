# type: socket_filter
# option: strict-stack
# expect: reject "invalid read from stack off -8+4 size 8"
# kernel: accept
*(u32 *)(r10 - 8) = 0
r0 = *(u64 *)(r10 - 8)
exit
