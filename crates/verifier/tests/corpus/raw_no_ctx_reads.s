# type: raw:8
# expect: reject "R6 invalid mem access 'scalar'"
r6 = 0
r0 = *(u32 *)(r6 + 0)
exit
