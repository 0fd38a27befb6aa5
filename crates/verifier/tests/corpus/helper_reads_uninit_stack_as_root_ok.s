# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: accept
# note: as root, uninitialized key bytes are unknown values
# kernel: accept
r2 = r10
r2 += -4
ld_pseudo r1, 5, 0
call 1
r0 = 0
exit
