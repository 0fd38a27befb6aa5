# type: socket_filter
# expect: reject "invalid variable-offset read from stack R3 var_off=(0x0; 0x7) off=-4 size=1"
# kernel: reject "invalid variable-offset read from stack R3 var_off=(0x0; 0x7) off=-4 size=1"
# note: the link gives r0 in [0, 7], not less: fp-4 + 7 is past the frame
r0 = *(u32 *)(r1 + 0)
r2 = r0
r2 += 4
if r2 > 11 goto out
r3 = r10
r3 += -4
r3 += r0
r0 = *(u8 *)(r3 + 0)
out:
r0 = 0
exit
