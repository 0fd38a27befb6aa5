# type: socket_filter
# map: ringbuf
# expect: reject "R2 is not a known constant"
# kernel: reject "R2 is not a known constant'"
r2 = *(u32 *)(r1 + 0)
ld_pseudo r1, 5, 0
r3 = 0
call 131
r0 = 0
exit
