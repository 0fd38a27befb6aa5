# type: socket_filter
# expect: accept
# kernel: accept
# note: sign extension of a value below 0x80 is the same number, linked
r0 = *(u8 *)(r1 + 0)
r0 &= 0x7f
r2 = (s8)r0
*(u64 *)(r10 - 16) = 0
if r2 > 7 goto out
r3 = r10
r3 += -16
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
