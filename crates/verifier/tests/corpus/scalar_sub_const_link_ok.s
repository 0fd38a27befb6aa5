# type: socket_filter
# expect: accept
# kernel: accept
# note: r2 = r0 - 4 linked to r0: r2 < 4 (unsigned) gives r0 in [4, 7]
r0 = *(u32 *)(r1 + 0)
r2 = r0
r2 -= 4
*(u64 *)(r10 - 8) = 0
if r2 >= 4 goto out
r3 = r10
r3 += -12
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
