# type: socket_filter
# expect: accept
# note: a negative dividend gives a remainder in [-7, 7]: still inside the stack
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
# differs: the kernel treats signed remainders as unknown; x s% 8 is in [-7,7], so the access stays in fp-15..fp-1
r1 = *(u32 *)(r1 + 0)
r1 = (s8)r1
r1 s%= 8
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
r0 = 0
exit
