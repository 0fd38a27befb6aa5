# type: socket_filter
# map: queue value=8 entries=4
# expect: accept
# kernel: accept
r1 = 7
*(u64 *)(r10 - 8) = r1
r2 = r10
r2 += -8
r3 = 0
ld_pseudo r1, 5, 0
call 87
r2 = r10
r2 += -16
ld_pseudo r1, 5, 0
call 88
r0 = *(u64 *)(r10 - 16)
exit
