# type: socket_filter
# expect: accept
# kernel: accept
r1 = *(u32 *)(r1 + 0)
r1 &= 0xff
r1 = bswap16 r1
r1 >>= 8
r1 &= 7
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
r0 = 0
exit
