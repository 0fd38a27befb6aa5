# type: socket_filter
# map: array key=4 value=8 entries=1 ro
# expect: accept
# kernel: accept
ld_pseudo r1, 6, 0
r0 = *(u64 *)(r1 + 0)
exit
