# type: socket_filter
# expect: accept
# kernel: accept
# note: the same link through a narrow spill of a value that fits in 4 bytes
r0 = *(u32 *)(r1 + 0)
*(u32 *)(r10 - 8) = r0
*(u64 *)(r10 - 16) = 0
if r0 > 7 goto out
r2 = *(u32 *)(r10 - 8)
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
