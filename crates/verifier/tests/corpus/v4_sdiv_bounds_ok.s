# type: socket_filter
# expect: accept
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
# differs: the kernel treats signed division results as unknown; [0,63] s/ 8 is [0,7], so the access stays in fp-8..fp-1
r1 = *(u32 *)(r1 + 0)
r1 &= 63
r1 s/= 8
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
r0 = 0
exit
