# type: socket_filter
# expect: accept
# kernel: accept
r0 = r10
r0 -= r10
exit
