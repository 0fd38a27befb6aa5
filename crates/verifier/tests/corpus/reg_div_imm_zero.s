# type: socket_filter
# expect: reject "div by zero"
# kernel: reject "div by zero"
r0 = 1
r0 /= 0
exit
