# type: socket_filter
# expect: accept
# kernel: accept
r1 = 1
call f
exit
f:
r0 = r1
r0 += 1
exit
