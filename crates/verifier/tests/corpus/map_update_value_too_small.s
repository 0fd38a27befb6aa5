# type: socket_filter
# option: strict-stack
# map: hash key=4 value=8 entries=16
# expect: reject "invalid indirect read from stack R3 off -12+4 size 8"
# kernel: accept
r1 = 0
*(u32 *)(r10 - 4) = r1
*(u32 *)(r10 - 12) = r1
r2 = r10
r2 += -4
r3 = r10
r3 += -12
r4 = 0
ld_pseudo r1, 5, 0
call 2
r0 = 0
exit
