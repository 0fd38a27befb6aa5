# type: socket_filter
# map: array key=4 value=8 entries=4
# expect: accept
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
# bpf_for_each_map_elem: the callback gets the map, the key, the value and the context.
r1 = 0
*(u64 *)(r10 - 8) = r1
ld_pseudo r1, 5, 0
ld_pseudo r2, 4, 6
r3 = r10
r3 += -8
r4 = 0
call 164
exit
r5 = *(u32 *)(r2 + 0)
r0 = *(u64 *)(r3 + 0)
r0 += r5
r5 = *(u64 *)(r4 + 0)
r5 += r0
*(u64 *)(r4 + 0) = r5
*(u64 *)(r3 + 0) = r5
r0 = 0
exit
