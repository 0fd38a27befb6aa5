# type: socket_filter
# expect: accept
# note: movsx of a value below 0x80 keeps it non-negative
# kernel: accept
r1 = *(u32 *)(r1 + 0)
r1 &= 0x7f
r2 = (s8)r1
r3 = r10
r3 += -128
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
