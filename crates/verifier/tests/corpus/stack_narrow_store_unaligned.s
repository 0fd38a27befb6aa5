# type: socket_filter
# expect: reject "invalid unbounded variable-offset read from stack R3"
# kernel: reject "invalid unbounded variable-offset read from stack R3"
# note: a narrow store that does not start a slot leaves unknown bytes (STACK_MISC)
*(u32 *)(r10 - 8) = 0
r0 = *(u32 *)(r1 + 0)
r0 &= 7
*(u32 *)(r10 - 4) = r0
r2 = *(u32 *)(r10 - 4)
*(u64 *)(r10 - 16) = 0
r3 = r10
r3 += -16
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
