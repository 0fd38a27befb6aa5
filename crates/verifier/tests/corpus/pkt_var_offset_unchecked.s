# type: xdp
# expect: reject "invalid access to packet"
# kernel: reject "R2 offset is outside of the packet"
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 5
if r4 > r3 goto drop
r5 = *(u8 *)(r2 + 0)
r2 += r5
r0 = *(u32 *)(r2 + 0)
drop:
r0 = 1
exit
