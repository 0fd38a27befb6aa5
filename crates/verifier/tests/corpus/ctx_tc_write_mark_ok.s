# type: tc
# expect: accept
# kernel: accept
r2 = 7
*(u32 *)(r1 + 8) = r2
*(u32 *)(r1 + 32) = r2
r0 = 0
exit
