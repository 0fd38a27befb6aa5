# type: socket_filter
# expect: reject "ldimm64"
# note: jumps to the second slot of the lddw
# kernel: reject "jump into the middle of ldimm64 insn 2"
r0 = 0
if r0 == 0 goto +1
r1 = 0x100000000 ll
exit
