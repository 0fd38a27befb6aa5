# type: socket_filter
# expect: accept
# kernel: accept
# note: a 32-bit copy of a value that fits in 32 bits is the same number, linked
r0 = *(u32 *)(r1 + 0)
w2 = w0
*(u64 *)(r10 - 16) = 0
if r2 > 7 goto out
r3 = r10
r3 += -16
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
