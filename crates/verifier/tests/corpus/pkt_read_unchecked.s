# type: xdp
# expect: reject "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)"
# kernel: reject "R2 offset is outside of the packet"
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r0 = *(u8 *)(r2 + 0)
r0 = 2
exit
