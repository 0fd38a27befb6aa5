# type: socket_filter
# expect: reject "R0 !read_ok"
# kernel: reject "R0 !read_ok"
exit
