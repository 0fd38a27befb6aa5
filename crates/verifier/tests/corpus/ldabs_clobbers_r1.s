# type: socket_filter
# expect: reject "R1 !read_ok"
# kernel: reject "R1 !read_ok"
r6 = r1
r0 = *(u8 *)skb[0]
r0 = r1
exit
