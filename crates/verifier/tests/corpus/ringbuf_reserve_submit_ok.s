# type: socket_filter
# map: ringbuf
# expect: accept
# kernel: accept
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r1 = 5
*(u64 *)(r0 + 0) = r1
r1 = r0
r2 = 0
call 132
out:
r0 = 0
exit
