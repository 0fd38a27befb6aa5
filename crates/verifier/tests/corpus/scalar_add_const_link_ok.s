# type: socket_filter
# expect: accept
# kernel: accept
# note: r2 = r0 + 4 stays linked to r0 (BPF_ADD_CONST): r2 <= 11 bounds r0 to [0, 7]
r0 = *(u32 *)(r1 + 0)
r2 = r0
r2 += 4
*(u64 *)(r10 - 16) = 0
if r2 > 11 goto out
r3 = r10
r3 += -16
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
