# type: socket_filter
# expect: accept
# kernel: accept
r1 = *(u32 *)(r1 + 0)
r1 &= 0xff
r2 = (s8)r1
r3 = r10
r3 += -128
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
