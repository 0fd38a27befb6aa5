# type: raw:8
# expect: accept
r0 = *(u32 *)(r1 + 4)
exit
