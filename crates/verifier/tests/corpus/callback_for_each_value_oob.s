# type: socket_filter
# map: array key=4 value=8 entries=4
# expect: reject "invalid access to map value, value_size=8 off=8 size=8"
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
ld_pseudo r1, 5, 0
ld_pseudo r2, 4, 5
r3 = 0
r4 = 0
call 164
exit
r0 = *(u64 *)(r3 + 8)
r0 = 0
exit
