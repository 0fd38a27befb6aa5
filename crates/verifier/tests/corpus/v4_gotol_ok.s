# type: socket_filter
# expect: accept
# kernel: accept
r0 = 0
if r0 == 1 goto +1
gotol +1
r0 = 1
exit
