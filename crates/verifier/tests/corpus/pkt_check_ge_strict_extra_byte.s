# type: xdp
# expect: accept
# note: data+14 < data_end proves byte 14 is in the packet
# kernel: accept
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
if r4 >= r3 goto drop
r0 = *(u8 *)(r2 + 14)
exit
drop:
r0 = 1
exit
