# type: socket_filter
# expect: reject "infinite loop detected at insn 1"
# kernel: reject "infinite loop detected at insn 1"
r0 = 0
if r0 == 0 goto -1
exit
