# type: socket_filter
# expect: reject "invalid write to stack R10 off=8 size=8"
# kernel: reject "invalid write to stack R10 off=8 size=8"
*(u64 *)(r10 + 8) = 0
r0 = 0
exit
