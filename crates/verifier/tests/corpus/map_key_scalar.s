# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "R2 type=scalar expected="
# kernel: reject "R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_"
r2 = 0
ld_pseudo r1, 5, 0
call 1
r0 = 0
exit
