# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "R0 invalid mem access 'map_value_or_null'"
# kernel: reject "R0 invalid mem access 'map_value_or_null'"
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 = *(u64 *)(r0 + 0)
r0 = 0
exit
