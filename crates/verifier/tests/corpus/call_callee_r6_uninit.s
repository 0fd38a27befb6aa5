# type: socket_filter
# expect: reject "R6 !read_ok"
# kernel: reject "R6 !read_ok"
r6 = 1
call f
exit
f:
r0 = r6
exit
