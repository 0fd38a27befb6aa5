# type: socket_filter
# expect: reject "subtraction from stack pointer prohibited"
# kernel: reject "R2 subtraction from stack pointer prohibited"
r0 = *(u32 *)(r1 + 0)
r0 &= 8
r2 = r10
r2 -= r0
r0 = 0
exit
