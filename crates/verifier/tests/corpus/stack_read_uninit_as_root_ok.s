# type: socket_filter
# expect: accept
# note: a privileged loader may read never-written stack (unknown value)
# kernel: accept
r0 = *(u64 *)(r10 - 8)
exit
