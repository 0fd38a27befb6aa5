# type: xdp
# expect: accept
# kernel: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 1
if r4 > r3 goto drop
r5 = *(u8 *)(r2 + 0)
r2 += r5
r4 = r2
r4 += 4
if r4 > r3 goto drop
r0 = *(u32 *)(r2 + 0)
r0 = 2
exit
drop:
r0 = 1
exit
