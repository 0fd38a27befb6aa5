# type: socket_filter
# expect: accept
# kernel: accept
r0 = *(u32 *)(r1 + 0)
exit
