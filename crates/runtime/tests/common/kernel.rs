//! The kernel side of the differential tests: objects loaded with `bpftool prog loadall`
//! (libbpf does the relocations and pins programs and maps under our own bpffs folder),
//! then `BPF_PROG_TEST_RUN` and map reads through the `bpf(2)` syscall directly.

use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

const BPF_MAP_LOOKUP_ELEM: i64 = 1;
const BPF_MAP_GET_NEXT_KEY: i64 = 4;
const BPF_OBJ_GET: i64 = 7;
const BPF_PROG_TEST_RUN: i64 = 10;
const BPF_PROG_GET_FD_BY_ID: i64 = 13;
const BPF_OBJ_GET_INFO_BY_FD: i64 = 15;
const BPF_MAP_LOOKUP_AND_DELETE_ELEM: i64 = 21;

/// Where this test suite pins kernel objects (its own folder, removed afterwards).
const PIN_ROOT: &str = "/sys/fs/bpf/bpfkit-runtime-tests";

fn sys_bpf(cmd: i64, attr: &mut [u8]) -> Result<i64, i32> {
    // SAFETY: `attr` is a buffer of the size passed; the kernel reads/writes within it and
    // through the pointers we placed in it, which point at live buffers of ours.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(r)
    }
}

fn put32(a: &mut [u8], off: usize, v: u32) {
    a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(a: &mut [u8], off: usize, v: u64) {
    a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn get32(a: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(a[off..off + 4].try_into().unwrap())
}

/// Why the kernel cannot be used, if it cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    if Command::new("bpftool").arg("version").output().is_err() {
        return Some("bpftool not found".into());
    }
    if !is_bpffs("/sys/fs/bpf") {
        let _ = std::fs::create_dir_all("/sys/fs/bpf");
        let (src, dst, fs) = (c"bpf", c"/sys/fs/bpf", c"bpf");
        // SAFETY: NUL-terminated strings; mounting bpffs where none is mounted.
        let r =
            unsafe { libc::mount(src.as_ptr(), dst.as_ptr(), fs.as_ptr(), 0, std::ptr::null()) };
        if r != 0 || !is_bpffs("/sys/fs/bpf") {
            return Some("no bpf filesystem at /sys/fs/bpf and mounting one failed".into());
        }
    }
    None
}

fn is_bpffs(path: &str) -> bool {
    let c = CString::new(path).unwrap();
    // SAFETY: `st` is a valid out-pointer, `c` a NUL-terminated path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as u64 == 0xcafe4a11 }
}

/// Number of possible CPUs (the per-CPU value count the kernel uses).
pub fn possible_cpus() -> usize {
    let s = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    s.trim()
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0) - a.parse::<usize>().unwrap_or(0) + 1,
            None => 1,
        })
        .sum::<usize>()
        .max(1)
}

/// Pins the calling thread to CPU 0 (per-CPU map slots then match runtime CPU 0).
pub fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t with bit 0 set, for the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn obj_get(path: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut attr = [0u8; 24];
    put64(&mut attr, 0, c.as_ptr() as u64);
    let fd = sys_bpf(BPF_OBJ_GET, &mut attr)
        .map_err(|e| format!("BPF_OBJ_GET {}: errno {e}", path.display()))?;
    // SAFETY: a new file descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn info(fd: &OwnedFd, size: usize) -> Vec<u8> {
    let mut buf = vec![0u8; size];
    let mut attr = [0u8; 16];
    put32(&mut attr, 0, fd.as_raw_fd() as u32);
    put32(&mut attr, 4, size as u32);
    put64(&mut attr, 8, buf.as_mut_ptr() as u64);
    let _ = sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr);
    buf
}

fn name_of(info: &[u8], off: usize) -> String {
    let raw = &info[off..off + 16];
    String::from_utf8_lossy(&raw[..raw.iter().position(|&b| b == 0).unwrap_or(16)]).into_owned()
}

/// The result of one `BPF_PROG_TEST_RUN`.
pub struct KernelRun {
    pub retval: u32,
    pub data_out: Vec<u8>,
    pub ctx_out: Option<Vec<u8>>,
    pub duration_ns: u32,
}

/// An object loaded into the kernel, its programs and maps pinned under our folder.
pub struct KernelObject {
    dir: PathBuf,
    progs: HashMap<String, OwnedFd>,
    maps: Vec<(String, OwnedFd)>,
}

impl Drop for KernelObject {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl KernelObject {
    /// Loads `object` with bpftool under `PIN_ROOT/<tag>`.
    pub fn load(object: &Path, tag: &str) -> Result<KernelObject, String> {
        let dir = Path::new(PIN_ROOT).join(format!("{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let out = Command::new("bpftool")
            .arg("prog")
            .arg("loadall")
            .arg(object)
            .arg(dir.join("progs"))
            .arg("pinmaps")
            .arg(dir.join("maps"))
            .output()
            .map_err(|e| format!("bpftool: {e}"))?;
        let mut k = KernelObject {
            dir: dir.clone(),
            progs: HashMap::new(),
            maps: Vec::new(),
        };
        if !out.status.success() {
            return Err(format!(
                "bpftool prog loadall {}: {}",
                object.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        for e in std::fs::read_dir(dir.join("progs")).map_err(|e| e.to_string())? {
            let e = e.map_err(|e| e.to_string())?;
            k.progs.insert(
                e.file_name().to_string_lossy().into_owned(),
                obj_get(&e.path())?,
            );
        }
        if let Ok(rd) = std::fs::read_dir(dir.join("maps")) {
            for e in rd.flatten() {
                k.maps.push((
                    e.file_name().to_string_lossy().into_owned(),
                    obj_get(&e.path())?,
                ));
            }
        }
        Ok(k)
    }

    /// `BPF_PROG_TEST_RUN` of program `name`; `Err(errno)` when the kernel refuses.
    pub fn test_run(
        &self,
        name: &str,
        data: &[u8],
        ctx_in: Option<&[u8]>,
        ctx_out_len: usize,
        repeat: u32,
    ) -> Result<KernelRun, i32> {
        let fd = self
            .progs
            .get(name)
            .unwrap_or_else(|| panic!("kernel has no program {name}"));
        let mut out = vec![0u8; data.len() + 4096 * 18];
        let mut ctx_out = vec![0u8; ctx_out_len];
        let mut attr = [0u8; 80];
        put32(&mut attr, 0, fd.as_raw_fd() as u32);
        put32(&mut attr, 8, data.len() as u32);
        put32(&mut attr, 12, out.len() as u32);
        put64(&mut attr, 16, data.as_ptr() as u64);
        put64(&mut attr, 24, out.as_mut_ptr() as u64);
        put32(&mut attr, 32, repeat);
        if let Some(c) = ctx_in {
            put32(&mut attr, 40, c.len() as u32);
            put64(&mut attr, 48, c.as_ptr() as u64);
        }
        if ctx_out_len > 0 {
            put32(&mut attr, 44, ctx_out_len as u32);
            put64(&mut attr, 56, ctx_out.as_mut_ptr() as u64);
        }
        sys_bpf(BPF_PROG_TEST_RUN, &mut attr)?;
        out.truncate(get32(&attr, 12) as usize);
        let ctx_size = get32(&attr, 44) as usize;
        ctx_out.truncate(ctx_size);
        Ok(KernelRun {
            retval: get32(&attr, 4),
            data_out: out,
            ctx_out: (ctx_out_len > 0).then_some(ctx_out),
            duration_ns: get32(&attr, 36),
        })
    }

    /// The pinned map standing for object map `name` (global data maps are pinned as
    /// `<object>_<section>`, e.g. `xdp_glob_bss`, dots made underscores).
    fn map_fd(&self, name: &str) -> Option<&OwnedFd> {
        self.maps
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| {
                self.maps
                    .iter()
                    .find(|(n, _)| name.starts_with('.') && n.ends_with(&name.replace('.', "_")))
            })
            .map(|(_, fd)| fd)
    }

    /// The maps of the object in the runtime's dump format (see `bpfkit_runtime::dump`),
    /// `names` in object order (they also name the inner maps of maps of maps).
    pub fn dump_maps(&self, names: &[String]) -> Value {
        let ncpus = possible_cpus();
        let by_id: HashMap<u32, String> = names
            .iter()
            .filter_map(|n| Some((get32(&info(self.map_fd(n)?, 88), 4), n.clone())))
            .collect();
        Value::Array(
            names
                .iter()
                .map(|n| match self.map_fd(n) {
                    Some(fd) => dump_map(n, fd, ncpus, &by_id),
                    None => json!({ "name": n, "missing_in_kernel": true }),
                })
                .collect(),
        )
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn lookup(fd: &OwnedFd, cmd: i64, key: Option<&[u8]>, value: &mut [u8]) -> Result<(), i32> {
    let mut attr = [0u8; 32];
    put32(&mut attr, 0, fd.as_raw_fd() as u32);
    put64(&mut attr, 8, key.map_or(0, |k| k.as_ptr() as u64));
    put64(&mut attr, 16, value.as_mut_ptr() as u64);
    sys_bpf(cmd, &mut attr).map(|_| ())
}

fn next_key(fd: &OwnedFd, key: Option<&[u8]>, size: usize) -> Option<Vec<u8>> {
    let mut next = vec![0u8; size];
    let mut attr = [0u8; 24];
    put32(&mut attr, 0, fd.as_raw_fd() as u32);
    put64(&mut attr, 8, key.map_or(0, |k| k.as_ptr() as u64));
    put64(&mut attr, 16, next.as_mut_ptr() as u64);
    sys_bpf(BPF_MAP_GET_NEXT_KEY, &mut attr).ok().map(|_| next)
}

fn fd_by_id(cmd: i64, id: u32) -> Option<OwnedFd> {
    let mut attr = [0u8; 12];
    put32(&mut attr, 0, id);
    let fd = sys_bpf(cmd, &mut attr).ok()?;
    // SAFETY: a new descriptor we own.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn dump_map(name: &str, fd: &OwnedFd, ncpus: usize, names_by_id: &HashMap<u32, String>) -> Value {
    let i = info(fd, 88);
    let (map_type, key_size, value_size, max_entries) = (
        get32(&i, 0),
        get32(&i, 8) as usize,
        get32(&i, 12) as usize,
        get32(&i, 16),
    );
    let percpu = matches!(map_type, 5 | 6 | 10);
    let type_name = bpfkit_object::MapType::from_u32(map_type)
        .map_or(map_type.to_string(), |t| t.name().to_string());
    let slot = value_size.div_ceil(8) * 8;
    let host_size = if percpu { slot * ncpus } else { value_size };
    let entries: Vec<Value> = match map_type {
        // Queue and stack: pop everything (the test is done with the map).
        22 | 23 => {
            let mut v = Vec::new();
            loop {
                let mut value = vec![0u8; value_size];
                if lookup(fd, BPF_MAP_LOOKUP_AND_DELETE_ELEM, None, &mut value).is_err() {
                    break;
                }
                v.push(json!({ "value": hex(&value) }));
            }
            v
        }
        27 => ringbuf_records(fd, max_entries as usize),
        30 => Vec::new(),
        _ => {
            let mut keys = Vec::new();
            let mut key: Option<Vec<u8>> = None;
            while let Some(k) = next_key(fd, key.as_deref(), key_size) {
                if keys.contains(&k) || keys.len() > 1 << 20 {
                    break;
                }
                keys.push(k.clone());
                key = Some(k);
            }
            keys.sort();
            keys.into_iter()
                .filter_map(|k| {
                    let mut value = vec![0u8; host_size.max(4)];
                    lookup(fd, BPF_MAP_LOOKUP_ELEM, Some(&k), &mut value).ok()?;
                    Some(match map_type {
                        3 => {
                            let id = get32(&value, 0);
                            let prog = fd_by_id(BPF_PROG_GET_FD_BY_ID, id)
                                .map(|f| name_of(&info(&f, 80), 64));
                            json!({ "key": hex(&k), "program": prog })
                        }
                        12 | 13 => {
                            let id = get32(&value, 0);
                            json!({ "key": hex(&k), "inner_map": names_by_id.get(&id) })
                        }
                        _ if percpu => {
                            let values: Vec<String> =
                                value.chunks(slot).map(|c| hex(&c[..value_size])).collect();
                            json!({ "key": hex(&k), "values": values })
                        }
                        _ => json!({ "key": hex(&k), "value": hex(&value[..value_size]) }),
                    })
                })
                .collect()
        }
    };
    json!({
        "name": name,
        "type": type_name,
        "key_size": key_size,
        "value_size": value_size,
        "max_entries": max_entries,
        "entries": entries,
    })
}

/// Pending ring buffer samples, read through the map's memory mapping.
fn ringbuf_records(fd: &OwnedFd, size: usize) -> Vec<Value> {
    let page = 4096;
    // SAFETY: mapping the ring buffer as the kernel's uapi documents: the consumer page
    // read-write at offset 0, then the producer page and twice the data area read-only.
    unsafe {
        let cons = libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            0,
        );
        let prod_len = page + 2 * size;
        let prod = libc::mmap(
            std::ptr::null_mut(),
            prod_len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            fd.as_raw_fd(),
            page as i64,
        );
        if cons == libc::MAP_FAILED || prod == libc::MAP_FAILED {
            return vec![json!({ "mmap_failed": true })];
        }
        let mut out = Vec::new();
        let mut c = *(cons as *const u64);
        let p = *(prod as *const u64);
        let data = (prod as *const u8).add(page);
        while c < p {
            let hdr = data.add((c as usize) & (size - 1));
            let len = *(hdr as *const u32);
            if len & (1 << 31) != 0 {
                break;
            }
            let n = (len & !(3 << 30)) as usize;
            if len & (1 << 30) == 0 {
                out.push(json!({ "record": hex(std::slice::from_raw_parts(hdr.add(8), n)) }));
            }
            c += (n as u64 + 8).div_ceil(8) * 8;
        }
        *(cons as *mut u64) = c;
        libc::munmap(cons, page);
        libc::munmap(prod, prod_len);
        out
    }
}
