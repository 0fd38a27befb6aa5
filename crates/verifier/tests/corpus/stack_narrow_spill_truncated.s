# type: socket_filter
# expect: reject "invalid variable-offset read from stack R3 var_off=(0x0; 0x3) off=-524 size=1"
# kernel: reject "invalid variable-offset read from stack R3 var_off=(0x0; 0x3) off=-524 size=1"
# note: the byte read back is [0, 3], not 0x100 + [0, 3]: fp-524 is below the stack
r0 = *(u32 *)(r1 + 0)
r0 &= 3
r0 |= 0x100
*(u8 *)(r10 - 8) = r0
r2 = *(u8 *)(r10 - 8)
r3 = r10
r3 += -524
r3 += r2
r0 = *(u8 *)(r3 + 0)
exit
