# type: socket_filter
# expect: reject "R1 bitwise operator &= on pointer prohibited"
# kernel: reject "R1 bitwise operator &= on pointer prohibited"
r1 = r10
r1 &= 4
r0 = 0
exit
