# type: socket_filter
# expect: reject "frame pointer is read only"
# kernel: reject "frame pointer is read only"
r10 = 0
r0 = 0
exit
