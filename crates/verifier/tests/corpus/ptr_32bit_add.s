# type: socket_filter
# expect: reject "R1 32-bit pointer arithmetic prohibited"
# kernel: reject "R1 32-bit pointer arithmetic prohibited"
r1 = r10
w1 += 4
r0 = 0
exit
