# type: socket_filter
# map: hash key=4 value=8 entries=16
# expect: reject "expected prog array map for tail call"
# kernel: reject "expected prog array map for tail call"
ld_pseudo r2, 5, 0
r3 = 0
call 12
r0 = 0
exit
