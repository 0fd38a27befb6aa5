# type: socket_filter
# expect: reject "R1 type=scalar expected=map_ptr"
# kernel: reject "R1 type=scalar expected=map_ptr"
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
call 1
r0 = 0
exit
