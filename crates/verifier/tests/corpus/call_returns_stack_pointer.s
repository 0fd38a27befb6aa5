# type: socket_filter
# expect: reject "cannot return stack pointer to the caller frame"
# kernel: reject "cannot return stack pointer to the caller"
call f
exit
f:
r0 = r10
exit
