# type: xdp
# expect: reject "math between pkt pointer and register with unbounded min value is not allowed"
# kernel: reject "math between pkt pointer and register with unbounded min value is not allowed"
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r5 = *(u32 *)(r1 + 12)
r5 <<= 32
r6 = *(u32 *)(r1 + 16)
r5 |= r6
r2 += r5
r0 = 1
exit
