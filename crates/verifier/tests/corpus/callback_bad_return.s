# type: socket_filter
# expect: reject "At callback return the register R0 has smin=2 smax=2"
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
r1 = 4
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call 181
r0 = 0
exit
r0 = 2
exit
