# type: socket_filter
# option: strict-stack
# map: hash key=4 value=8 entries=16
# expect: reject "invalid indirect read from stack R2 off -4+0 size 4"
# kernel: accept
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 = 0
exit
