# type: socket_filter
# expect: accept
# kernel: accept
r6 = r1
r0 = *(u16 *)skb[12]
r0 = *(u8 *)skb[r0]
exit
