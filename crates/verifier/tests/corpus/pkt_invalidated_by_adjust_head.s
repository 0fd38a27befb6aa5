# type: xdp
# expect: reject "R6 invalid mem access 'scalar'"
# kernel: reject "R6 invalid mem access 'scalar'"
r6 = *(u32 *)(r1 + 0)
r7 = *(u32 *)(r1 + 4)
r4 = r6
r4 += 14
if r4 > r7 goto drop
r2 = 0
call 44
r0 = *(u8 *)(r6 + 0)
drop:
r0 = 1
exit
