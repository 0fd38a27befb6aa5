# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: accept
# kernel: accept
r6 = *(u32 *)(r1 + 0)
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r6 &= 1
r6 <<= 2
r0 += r6
r0 = *(u32 *)(r0 + 0)
out:
r0 = 0
exit
