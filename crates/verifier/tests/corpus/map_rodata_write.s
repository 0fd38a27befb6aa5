# type: socket_filter
# map: array key=4 value=8 entries=1 ro
# expect: reject "write into map forbidden, value_size=8 off=0 size=8"
# kernel: reject "write into map forbidden, value_size=8 off=0 size=8"
ld_pseudo r1, 6, 0
r2 = 1
*(u64 *)(r1 + 0) = r2
r0 = 0
exit
