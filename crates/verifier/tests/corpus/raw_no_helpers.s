# type: raw:8
# expect: reject "program of this type cannot use helper bpf_ktime_get_ns#5"
call 5
exit
