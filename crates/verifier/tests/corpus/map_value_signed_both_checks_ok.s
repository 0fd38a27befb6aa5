# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: accept
# kernel: accept
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r1 = *(u64 *)(r0 + 0)
if r1 s> 4 goto out
if r1 s< 0 goto out
r0 += r1
r0 = *(u8 *)(r0 + 3)
out:
r0 = 0
exit
