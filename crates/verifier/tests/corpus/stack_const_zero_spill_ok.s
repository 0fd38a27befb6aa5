# type: socket_filter
# expect: accept
# note: the branch that reads uninitialized stack is dead: the spilled zero is tracked
# kernel: accept
r1 = 0
*(u64 *)(r10 - 8) = r1
r2 = *(u64 *)(r10 - 8)
r0 = 1
if r2 == 0 goto +1
r0 = *(u64 *)(r10 - 100)
exit
