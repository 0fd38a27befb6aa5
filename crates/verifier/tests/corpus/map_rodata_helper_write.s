# type: socket_filter
# map: array key=4 value=8 entries=1 ro
# expect: reject "write into map forbidden"
# kernel: reject "write into map forbidden, value_size=8 off=0 size=8"
# A helper that writes its destination cannot be given read-only map memory.
ld_pseudo r1, 6, 0
r2 = 8
r3 = 0
call 113
r0 = 0
exit
