# type: raw:16
# expect: accept
r0 = r2
r0 += -1
r1 += r0
r0 = *(u8 *)(r1 + 0)
exit
