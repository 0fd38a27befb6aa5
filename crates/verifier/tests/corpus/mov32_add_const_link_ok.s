# type: socket_filter
# expect: accept
# kernel: accept
# note: w2 = w0 + 4 in 32 bits stays linked to r0 (which fits in 32 bits): w2 in [4, 11]
# note: bounds r0 to [0, 7]
r0 = *(u32 *)(r1 + 0)
w2 = w0
w2 += 4
*(u64 *)(r10 - 16) = 0
if w2 > 11 goto out
if w2 < 4 goto out
r3 = r10
r3 += -16
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
