# type: socket_filter
# map: array key=4 value=8 entries=1
# expect: accept
# kernel: accept
ld_pseudo r1, 6, 0x400000000
r0 = *(u32 *)(r1 + 0)
exit
