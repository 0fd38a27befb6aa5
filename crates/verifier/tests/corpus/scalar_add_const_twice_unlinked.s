# type: socket_filter
# expect: reject "invalid unbounded variable-offset read from stack R3"
# kernel: reject "invalid unbounded variable-offset read from stack R3"
# note: a second constant added breaks the link (as in the kernel): r0 stays unbounded
r0 = *(u32 *)(r1 + 0)
r2 = r0
r2 += 4
r2 += 4
*(u64 *)(r10 - 16) = 0
if r2 > 15 goto out
r3 = r10
r3 += -16
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
