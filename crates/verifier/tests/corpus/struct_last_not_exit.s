# type: socket_filter
# expect: reject "last insn is not an exit or jmp"
# kernel: reject "last insn is not an exit or jmp"
r0 = 0
r0 += 1
