# type: tc
# expect: accept
# kernel: accept
r2 = *(u32 *)(r1 + 76)
r3 = *(u32 *)(r1 + 80)
r4 = r2
r4 += 34
if r4 > r3 goto out
r0 = *(u32 *)(r2 + 26)
out:
r0 = 0
exit
