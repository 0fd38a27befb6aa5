# type: socket_filter
# expect: reject "invalid read from stack R2 off=92 size=1"
# kernel: reject "invalid read from stack R2 off=92 size=1"
# The callee's two paths join with r0 = 0 or 100; the caller uses r0 as a stack offset,
# so r0 matters exactly at the callee's exit and the paths must not be merged there.
r6 = *(u32 *)(r1 + 0)
r1 = r6
call f
r2 = r10
r2 += -8
r2 += r0
r0 = *(u8 *)(r2 + 0)
r0 = 0
exit
f:
r0 = 0
r2 = 1
r3 = 2
if r1 == 5 goto big
r2 += r3
r3 += r2
goto out
big:
r0 = 100
r2 += r3
r3 += r2
out:
r2 += r3
r3 += r2
exit
