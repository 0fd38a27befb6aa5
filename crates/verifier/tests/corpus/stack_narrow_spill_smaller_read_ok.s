# type: socket_filter
# expect: accept
# kernel: accept
# note: a narrower read at the spill's start truncates the value: 0x100 + [0, 3] stored as
# note: 4 bytes, read as 1 byte, is [0, 3]
r0 = *(u32 *)(r1 + 0)
r0 &= 3
r0 |= 0x100
*(u32 *)(r10 - 8) = r0
r2 = *(u8 *)(r10 - 8)
*(u64 *)(r10 - 16) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
