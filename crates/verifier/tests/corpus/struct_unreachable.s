# type: socket_filter
# expect: reject "unreachable insn 2"
# kernel: reject "unreachable insn 2"
r0 = 0
goto +1
r0 = 1
exit
