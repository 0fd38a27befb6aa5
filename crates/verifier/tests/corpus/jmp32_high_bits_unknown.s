# type: socket_filter
# expect: reject "math between fp pointer and register with unbounded min value is not allowed"
# note: a 32-bit compare bounds only the low half
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
r2 = *(u32 *)(r1 + 4)
r1 = *(u32 *)(r1 + 0)
r1 <<= 32
r1 |= r2
if w1 > 7 goto out
r3 = r10
r3 += -8
r3 += r1
*(u8 *)(r3 + 0) = 0
out:
r0 = 0
exit
