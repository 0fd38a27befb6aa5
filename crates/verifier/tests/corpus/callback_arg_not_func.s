# type: socket_filter
# expect: reject "R2 type=scalar expected=func"
# kernel: reject "R2 type=scalar expected=func"
r1 = 4
r2 = 0
r3 = 0
r4 = 0
call 181
r0 = 0
exit
