# type: socket_filter
# expect: reject "R2 !read_ok"
# kernel: reject "R2 !read_ok"
r0 = r2
exit
