# type: socket_filter
# expect: accept
# kernel: accept
r1 = 0x0a6968
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 4
call 6
r0 = 0
exit
