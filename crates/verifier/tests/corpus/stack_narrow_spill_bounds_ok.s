# type: socket_filter
# expect: accept
# kernel: accept
# note: a non-constant scalar stored narrower than 8 bytes at a slot's start is a narrow
# note: spill: read back at the same size it keeps its bounds (r2 in [0, 7])
r0 = *(u32 *)(r1 + 0)
r0 &= 7
*(u32 *)(r10 - 8) = r0
r2 = *(u32 *)(r10 - 8)
*(u64 *)(r10 - 16) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
