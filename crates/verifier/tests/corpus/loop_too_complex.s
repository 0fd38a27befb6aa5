# type: socket_filter
# expect: reject "BPF program is too large. Processed 1000001 insn"
# kernel: reject "BPF program is too large. Processed 1000001 insn"
r1 = 0
loop:
r1 += 1
if r1 != 0 goto loop
r0 = 0
exit
