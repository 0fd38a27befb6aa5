# type: socket_filter
# expect: accept
# kernel: accept
# note: a spill shares an id with its register: the bound checked on r0 after the spill
# note: holds for the value filled back
r0 = *(u32 *)(r1 + 0)
*(u64 *)(r10 - 8) = r0
*(u64 *)(r10 - 16) = 0
if r0 > 7 goto out
r2 = *(u64 *)(r10 - 8)
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
