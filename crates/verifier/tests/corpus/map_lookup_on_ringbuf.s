# type: socket_filter
# map: ringbuf
# expect: reject "cannot pass map_type 27 into func bpf_map_lookup_elem#1"
# kernel: reject "invalid zero-sized read"
r1 = 0
*(u32 *)(r10 - 4) = r1
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 = 0
exit
