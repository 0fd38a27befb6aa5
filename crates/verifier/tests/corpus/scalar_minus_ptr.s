# type: socket_filter
# expect: reject "R0 tried to subtract pointer from scalar"
# kernel: reject "R0 tried to subtract pointer from scalar"
r0 = 0
r0 -= r10
exit
