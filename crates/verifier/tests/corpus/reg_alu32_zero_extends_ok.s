# type: socket_filter
# expect: accept
# kernel: accept
r0 = -1
w0 += 0
r0 >>= 32
exit
