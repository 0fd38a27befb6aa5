# type: socket_filter
# expect: reject "math between fp pointer and register with unbounded min value is not allowed"
# kernel: reject "math between fp pointer and register with unbounded min value is not allowed"
# note: overwriting the spill's low half breaks the link: the bound on r0 says nothing
# note: about the bytes read back
r0 = *(u32 *)(r1 + 0)
r4 = *(u32 *)(r1 + 4)
*(u64 *)(r10 - 8) = r0
*(u32 *)(r10 - 8) = r4
*(u64 *)(r10 - 16) = 0
if r0 > 7 goto out
r2 = *(u64 *)(r10 - 8)
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
