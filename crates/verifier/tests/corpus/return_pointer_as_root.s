# type: socket_filter
# expect: accept
# note: root may leak pointers (allow_ptr_leaks)
# kernel: accept
r0 = r10
exit
