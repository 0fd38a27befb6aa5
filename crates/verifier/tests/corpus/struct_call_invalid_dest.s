# type: socket_filter
# expect: reject "call to invalid destination"
# kernel: reject "call to invalid destination"
r0 = 0
call local +10
exit
