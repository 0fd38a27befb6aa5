# type: socket_filter
# expect: accept
# kernel: accept
r0 = *(u8 *)(r1 + 16)
exit
