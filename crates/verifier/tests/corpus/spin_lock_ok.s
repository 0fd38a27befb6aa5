# type: socket_filter
# map: array key=4 value=16 entries=1 lock=0
# expect: accept
# (not loaded into the kernel: spin locks need BTF)
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
if r0 == 0 goto out
r6 = r0
r1 = r6
call 93
r1 = 1
*(u64 *)(r6 + 8) = r1
r1 = r6
call 94
out:
r0 = 0
exit
