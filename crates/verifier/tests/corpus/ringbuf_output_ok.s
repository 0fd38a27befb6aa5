# type: socket_filter
# map: ringbuf
# expect: accept
# kernel: accept
r1 = 1
*(u64 *)(r10 - 8) = r1
r2 = r10
r2 += -8
ld_pseudo r1, 5, 0
r3 = 8
r4 = 0
call 130
r0 = 0
exit
