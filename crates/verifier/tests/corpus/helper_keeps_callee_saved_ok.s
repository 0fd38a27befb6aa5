# type: socket_filter
# expect: accept
# kernel: accept
r6 = r1
call 5
r0 = *(u32 *)(r6 + 0)
exit
