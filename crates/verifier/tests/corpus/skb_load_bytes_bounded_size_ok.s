# type: socket_filter
# expect: accept
# kernel: accept
r4 = *(u32 *)(r1 + 0)
if r4 > 64 goto out
if r4 == 0 goto out
r2 = 0
r3 = r10
r3 += -64
call 26
out:
r0 = 0
exit
