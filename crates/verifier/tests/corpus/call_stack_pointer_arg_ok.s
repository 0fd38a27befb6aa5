# type: socket_filter
# expect: accept
# kernel: accept
*(u64 *)(r10 - 8) = 0
r1 = r10
r1 += -8
call f
r0 = *(u64 *)(r10 - 8)
exit
f:
r2 = 3
*(u64 *)(r1 + 0) = r2
r0 = 0
exit
