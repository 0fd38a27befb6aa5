# type: socket_filter
# option: strict-stack
# expect: reject "invalid read from stack off -8+0 size 8"
# kernel: accept
r1 = 1
lock *(u64 *)(r10 - 8) += r1
r0 = 0
exit
