# type: xdp
# expect: reject "R3 pointer arithmetic on pkt_end prohibited"
# kernel: reject "R3 pointer arithmetic on pkt_end prohibited"
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r3 += 1
r0 = 1
exit
