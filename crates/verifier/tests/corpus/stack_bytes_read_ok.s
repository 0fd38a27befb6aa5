# type: socket_filter
# expect: accept
# kernel: accept
*(u8 *)(r10 - 1) = 1
*(u8 *)(r10 - 2) = 2
r0 = *(u16 *)(r10 - 2)
exit
