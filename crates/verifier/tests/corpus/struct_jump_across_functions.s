# type: socket_filter
# expect: reject "jump out of range from insn 3 to 0"
# kernel: reject "jump out of range from insn 3 to 0"
call f
exit
f:
r0 = 0
if r0 == 0 goto -4
exit
