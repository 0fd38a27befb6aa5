# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: accept
# kernel: accept
r1 = 0
*(u32 *)(r10 - 4) = r1
*(u64 *)(r10 - 16) = r1
r2 = r10
r2 += -4
r3 = r10
r3 += -16
r4 = 0
ld_pseudo r1, 5, 0
call 2
r0 = 0
exit
