# type: socket_filter
# map: ringbuf
# expect: reject "R1 type=ringbuf_mem_or_null expected=ringbuf_mem"
# kernel: reject "R1 type=ringbuf_mem_or_null expected=ringbuf_mem"
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
r1 = r0
r2 = 0
call 132
r0 = 0
exit
