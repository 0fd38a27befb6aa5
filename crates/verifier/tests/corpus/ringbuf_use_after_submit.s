# type: socket_filter
# map: ringbuf
# expect: reject "R6 invalid mem access 'scalar'"
# kernel: reject "R6 invalid mem access 'scalar'"
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r6 = r0
r1 = r0
r2 = 0
call 132
r1 = 5
*(u64 *)(r6 + 0) = r1
out:
r0 = 0
exit
