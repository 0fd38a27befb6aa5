# type: socket_filter
# expect: accept
# kernel: accept
r2 = 1
*(u32 *)(r1 + 48) = r2
*(u32 *)(r1 + 64) = r2
r0 = *(u32 *)(r1 + 48)
exit
