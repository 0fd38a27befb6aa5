//! Link-type names and the LINKTYPE <-> DLT mapping against libpcap itself
//! (a C harness built at test time with `cc -lpcap`).

use bpfkit_capture::{Dlt, LinkType};
use std::path::PathBuf;
use std::process::Command;

#[test]
fn names_and_mapping_match_libpcap() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let exe = dir.join(format!("linktypes-{}", std::process::id()));
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/linktypes.c");
    let built = Command::new("cc")
        .arg("-o")
        .arg(&exe)
        .arg(src)
        .arg("-lpcap")
        .output();
    match built {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!(
                "skipping: cannot build the libpcap harness: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("skipping: no C compiler: {e}");
            return;
        }
    }
    let scratch = dir.join(format!("linktypes-{}.pcap", std::process::id()));
    let out = Command::new(&exe).arg(&scratch).output().unwrap();
    let _ = std::fs::remove_file(&exe);
    let _ = std::fs::remove_file(&scratch);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut named = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let v: u32 = f[0].parse().unwrap();
        let name = (f[1] != "-").then_some(f[1]);
        assert_eq!(Dlt(v).name(), name, "name of DLT {v}");
        if let Some(name) = name {
            named += 1;
            assert_eq!(Dlt::from_name(name), Some(Dlt(v)));
            assert_eq!(Dlt::from_name(&name.to_lowercase()), Some(Dlt(v)));
        }
        let linktype: i64 = f[2].parse().unwrap();
        let expected = (linktype >= 0).then_some(LinkType(linktype as u32));
        assert_eq!(Dlt(v).to_linktype(), expected, "dlt_to_linktype({v})");
        let dlt: i64 = f[3].parse().unwrap();
        assert_eq!(
            LinkType(v).to_dlt(),
            Dlt(dlt as u32),
            "linktype_to_dlt({v})"
        );
    }
    assert!(named > 140, "only {named} names");
}
