# type: socket_filter
# expect: accept
# kernel: accept
r6 = r1
call f
r0 = *(u32 *)(r6 + 0)
exit
f:
r6 = 0
r0 = 0
exit
