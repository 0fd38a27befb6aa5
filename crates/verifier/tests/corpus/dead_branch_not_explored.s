# type: socket_filter
# expect: accept
# kernel: accept
r0 = 1
if r0 == 2 goto bad
exit
bad:
r0 = *(u64 *)(r10 - 8)
exit
