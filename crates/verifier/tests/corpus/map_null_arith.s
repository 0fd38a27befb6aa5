# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first"
# kernel: reject "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first"
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 += 4
r0 = 0
exit
