//! Just enough BTF to find a `struct bpf_spin_lock` inside a map value.
//!
//! The kernel learns where a map value's lock is from the map's BTF value type; an object
//! built by clang carries that type in its `.BTF` section. This reader walks the type
//! section once (every kind's size is fixed by the format) and follows struct members.
//! Malformed BTF simply yields "no lock".

/// `BTF_KIND_*` numbers used here.
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_TYPE_TAG: u32 = 18;

/// One parsed type: kind, name offset, the `size_or_type` word and where its extra data starts.
#[derive(Clone, Copy)]
struct Type {
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    name_off: u32,
    size_or_type: u32,
    extra: usize,
}

struct Reader<'a> {
    types: Vec<Type>,
    data: &'a [u8],
    strings: &'a [u8],
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

impl<'a> Reader<'a> {
    fn parse(btf: &'a [u8]) -> Option<Reader<'a>> {
        if btf.get(0..2)? != [0x9f, 0xeb] {
            return None;
        }
        let hdr_len = u32_at(btf, 4)? as usize;
        let (type_off, type_len) = (u32_at(btf, 8)? as usize, u32_at(btf, 12)? as usize);
        let (str_off, str_len) = (u32_at(btf, 16)? as usize, u32_at(btf, 20)? as usize);
        let data = btf.get(hdr_len + type_off..hdr_len + type_off + type_len)?;
        let strings = btf.get(hdr_len + str_off..hdr_len + str_off + str_len)?;
        // Type ids start at 1; index 0 stands for `void`.
        let mut types = vec![Type {
            kind: 0,
            vlen: 0,
            kind_flag: false,
            name_off: 0,
            size_or_type: 0,
            extra: 0,
        }];
        let mut pos = 0;
        while pos + 12 <= data.len() {
            let info = u32_at(data, pos + 4)?;
            let t = Type {
                kind: (info >> 24) & 0x1f,
                vlen: (info & 0xffff) as usize,
                kind_flag: info >> 31 == 1,
                name_off: u32_at(data, pos)?,
                size_or_type: u32_at(data, pos + 8)?,
                extra: pos + 12,
            };
            let extra = match t.kind {
                1 | 14 | 17 => 4,               // INT, VAR, DECL_TAG
                3 => 12,                        // ARRAY
                4 | 5 | 15 | 19 => 12 * t.vlen, // STRUCT, UNION, DATASEC, ENUM64
                6 | 13 => 8 * t.vlen,           // ENUM, FUNC_PROTO
                _ => 0,
            };
            types.push(t);
            pos += 12 + extra;
        }
        Some(Reader {
            types,
            data,
            strings,
        })
    }

    fn name(&self, t: &Type) -> &'a [u8] {
        let rest = self.strings.get(t.name_off as usize..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        &rest[..end]
    }

    /// The type behind typedefs and qualifiers.
    fn resolve(&self, mut id: u32) -> Option<Type> {
        for _ in 0..32 {
            let t = *self.types.get(id as usize)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Some(t),
            }
        }
        None
    }

    /// Byte offset of a `bpf_spin_lock` in the struct `t`, searching nested structs.
    fn find_lock(&self, t: &Type, depth: u32) -> Option<u32> {
        if !matches!(t.kind, KIND_STRUCT | KIND_UNION) || depth > 8 {
            return None;
        }
        for m in 0..t.vlen {
            let at = t.extra + 12 * m;
            let ty = u32_at(self.data, at + 4)?;
            let raw_off = u32_at(self.data, at + 8)?;
            let bits = if t.kind_flag {
                raw_off & 0x00ff_ffff
            } else {
                raw_off
            };
            let Some(mt) = self.resolve(ty) else { continue };
            if mt.kind == KIND_STRUCT && self.name(&mt) == b"bpf_spin_lock" {
                return Some(bits / 8);
            }
            if let Some(inner) = self.find_lock(&mt, depth + 1) {
                return Some(bits / 8 + inner);
            }
        }
        None
    }
}

/// Offset of the `struct bpf_spin_lock` in BTF type `value_type` of `btf`, if there is one.
pub(crate) fn spin_lock_offset(btf: &[u8], value_type: u32) -> Option<u32> {
    let r = Reader::parse(btf)?;
    let t = r.resolve(value_type)?;
    r.find_lock(&t, 0)
}
