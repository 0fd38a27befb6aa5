# type: socket_filter
# map: prog_array key=4 value=4 entries=4
# expect: accept
# kernel: accept
ld_pseudo r2, 5, 0
r3 = 0
call 12
r0 = 0
exit
