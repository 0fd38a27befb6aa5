# type: socket_filter
# expect: reject "invalid shift 64"
# kernel: reject "invalid shift 64"
r0 = 1
r0 <<= 64
exit
