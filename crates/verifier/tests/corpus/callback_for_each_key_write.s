# type: socket_filter
# map: hash key=4 value=8 entries=4
# expect: reject "write to change key R2 not allowed"
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
ld_pseudo r1, 5, 0
ld_pseudo r2, 4, 5
r3 = 0
r4 = 0
call 164
exit
r1 = 1
*(u32 *)(r2 + 0) = r1
r0 = 0
exit
