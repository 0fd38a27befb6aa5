# type: raw:8
# expect: reject "invalid access to memory, mem_size=8 off=8 size=4"
r0 = *(u32 *)(r1 + 8)
exit
