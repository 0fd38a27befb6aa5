# type: socket_filter
# map: array key=4 value=8 entries=1
# expect: reject "invalid access to map value, value_size=8 off=8 size=4"
# kernel: reject "R1 min value is outside of the allowed memory range"
ld_pseudo r1, 6, 0x400000000
r0 = *(u32 *)(r1 + 4)
exit
