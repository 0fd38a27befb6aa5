# type: socket_filter
# expect: accept
# kernel: accept
# note: a narrow read at the start of a whole spilled scalar gives its low bytes, with
# note: their bounds: [0, 7] here
r0 = *(u32 *)(r1 + 0)
r0 &= 7
*(u64 *)(r10 - 8) = r0
r2 = *(u16 *)(r10 - 8)
*(u64 *)(r10 - 16) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
