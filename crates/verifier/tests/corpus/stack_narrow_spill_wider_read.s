# type: socket_filter
# expect: reject "math between fp pointer and register with unbounded min value is not allowed"
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
# note: 8 bytes over a 4-byte spill read as an unknown number
*(u32 *)(r10 - 4) = 0
r0 = *(u32 *)(r1 + 0)
r0 &= 7
*(u32 *)(r10 - 8) = r0
r2 = *(u64 *)(r10 - 8)
*(u64 *)(r10 - 16) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
