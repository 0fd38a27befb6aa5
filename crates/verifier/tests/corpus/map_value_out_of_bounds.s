# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "invalid access to map value, value_size=8 off=8 size=4"
# kernel: reject "R0 min value is outside of the allowed memory range"
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r0 = *(u32 *)(r0 + 8)
out:
r0 = 0
exit
