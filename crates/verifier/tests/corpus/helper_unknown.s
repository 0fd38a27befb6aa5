# type: socket_filter
# expect: reject "invalid func unknown#100000"
# kernel: reject "invalid func unknown#100000"
call 100000
r0 = 0
exit
