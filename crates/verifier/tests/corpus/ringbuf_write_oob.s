# type: socket_filter
# map: ringbuf
# expect: reject "invalid access to memory, mem_size=8 off=8 size=8"
# kernel: reject "R0 min value is outside of the allowed memory range"
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r1 = 5
*(u64 *)(r0 + 8) = r1
r1 = r0
r2 = 0
call 132
out:
r0 = 0
exit
