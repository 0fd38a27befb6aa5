# type: socket_filter
# expect: accept
# kernel: accept
r1 = *(u32 *)(r1 + 0)
if w1 s< 0 goto out
if w1 s> 7 goto out
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
out:
r0 = 0
exit
