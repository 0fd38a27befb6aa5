# type: raw:16
# expect: accept
r3 = 0
r0 = 0
loop:
if r3 >= 16 goto end
r4 = r1
r4 += r3
r5 = *(u8 *)(r4 + 0)
r0 += r5
r3 += 1
goto loop
end:
exit
