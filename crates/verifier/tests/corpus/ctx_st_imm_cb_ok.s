# type: socket_filter
# expect: accept
# kernel: accept
*(u32 *)(r1 + 48) = 0
r0 = 0
exit
