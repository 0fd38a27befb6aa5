# type: socket_filter
# option: strict-stack
# expect: reject "invalid indirect read from stack R1 off -8+0 size 8"
# kernel: accept
r1 = r10
r1 += -8
r2 = 8
call 6
r0 = 0
exit
