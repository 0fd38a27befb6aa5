# type: socket_filter
# expect: reject "value 4294967292 makes fp pointer be out of bounds"
# kernel: reject "value 4294967292 makes fp pointer be out of bounds"
# note: w2 = w0 + 4 below 4 means w0 wrapped: r0 is in [0xfffffffc, 0xffffffff] (32-bit
# note: arithmetic back to the base), far out of the stack
r0 = *(u32 *)(r1 + 0)
w2 = w0
w2 += 4
if w2 >= 4 goto out
r3 = r10
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
