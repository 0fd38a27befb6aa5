# type: socket_filter
# expect: accept
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
# differs: the kernel treats signed remainders as unknown; x s% 8 for x in [0,0xffff] is in [0,7]
r1 = *(u32 *)(r1 + 0)
r1 &= 0xffff
r1 s%= 8
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
r0 = 0
exit
