# type: socket_filter
# expect: reject "invalid size of register spill"
# kernel: reject "invalid size of register spill"
*(u32 *)(r10 - 8) = r1
r0 = 0
exit
