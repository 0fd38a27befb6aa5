//! A small, bounds-checked reader for the BTF type section: just what the loader
//! needs (map definitions, `DATASEC` lookups, sizes) plus the `DATASEC` fix-up.

use crate::error::ObjectError;

pub(crate) const KIND_INT: u8 = 1;
pub(crate) const KIND_PTR: u8 = 2;
pub(crate) const KIND_ARRAY: u8 = 3;
pub(crate) const KIND_STRUCT: u8 = 4;
pub(crate) const KIND_UNION: u8 = 5;
pub(crate) const KIND_ENUM: u8 = 6;
const KIND_TYPEDEF: u8 = 8;
const KIND_VOLATILE: u8 = 9;
const KIND_CONST: u8 = 10;
const KIND_RESTRICT: u8 = 11;
pub(crate) const KIND_FUNC_PROTO: u8 = 13;
pub(crate) const KIND_VAR: u8 = 14;
pub(crate) const KIND_DATASEC: u8 = 15;
const KIND_FLOAT: u8 = 16;
const KIND_TYPE_TAG: u8 = 18;
const KIND_ENUM64: u8 = 19;

const HEADER_LEN: usize = 24;
const MAGIC: u16 = 0xeb9f;
/// Deeper chains of typedefs/modifiers/arrays are treated as malformed.
const MAX_DEPTH: usize = 32;

/// One `struct btf_type` record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TypeEntry {
    pub kind: u8,
    pub name_off: u32,
    info: u32,
    /// `size` or `type`, depending on the kind.
    pub size_or_type: u32,
    /// Byte offset of the record in the BTF blob.
    pub pos: usize,
}

impl TypeEntry {
    pub fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }
    fn kind_flag(&self) -> bool {
        self.info >> 31 != 0
    }
}

/// A struct/union member.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Member {
    pub name_off: u32,
    pub type_id: u32,
    /// Offset in bits from the start of the struct.
    pub bit_offset: u32,
}

/// One `btf_var_secinfo` of a `DATASEC`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SecVar {
    pub type_id: u32,
    /// Byte offset of this record's `offset` field in the blob (for the fix-up).
    pub offset_pos: usize,
}

/// Parsed view of a `.BTF` section.
#[derive(Debug)]
pub(crate) struct BtfReader<'a> {
    raw: &'a [u8],
    strings: &'a [u8],
    /// Index = type id; entry 0 stands for `void`.
    types: Vec<TypeEntry>,
}

fn err<T>(msg: impl Into<String>) -> Result<T, ObjectError> {
    Err(ObjectError::Btf(msg.into()))
}

fn u32_at(raw: &[u8], pos: usize) -> Result<u32, ObjectError> {
    match pos.checked_add(4).and_then(|end| raw.get(pos..end)) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => err(format!("read of 4 bytes at offset {pos} is out of bounds")),
    }
}

fn trailing_len(kind: u8, vlen: usize) -> Option<usize> {
    Some(match kind {
        KIND_INT | KIND_VAR | 17 /* DECL_TAG */ => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        KIND_PTR | 7 /* FWD */ | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | 12 /* FUNC */ | KIND_FLOAT | KIND_TYPE_TAG => 0,
        _ => return None,
    })
}

impl<'a> BtfReader<'a> {
    /// Parses the header and walks every type record, checking all bounds.
    pub fn parse(raw: &'a [u8]) -> Result<BtfReader<'a>, ObjectError> {
        if raw.len() < HEADER_LEN {
            return err(format!(
                "section is {} bytes, shorter than the header",
                raw.len()
            ));
        }
        let magic = u16::from_le_bytes([raw[0], raw[1]]);
        if magic != MAGIC {
            return err(format!(
                "bad magic {magic:#06x} (big-endian BTF is not supported)"
            ));
        }
        if raw[2] != 1 {
            return err(format!("unsupported version {}", raw[2]));
        }
        let hdr_len = u32_at(raw, 4)? as usize;
        if hdr_len < HEADER_LEN || hdr_len > raw.len() {
            return err(format!("header length {hdr_len} is invalid"));
        }
        let region = |off_pos: usize, what: &str| -> Result<(usize, usize), ObjectError> {
            let off = u32_at(raw, off_pos)? as usize;
            let len = u32_at(raw, off_pos + 4)? as usize;
            let start = hdr_len + off;
            match start.checked_add(len) {
                Some(end) if end <= raw.len() => Ok((start, end)),
                _ => err(format!(
                    "{what} section (offset {off}, length {len}) is out of bounds"
                )),
            }
        };
        let (type_start, type_end) = region(8, "type")?;
        let (str_start, str_end) = region(16, "string")?;
        let strings = &raw[str_start..str_end];
        if strings.first().is_some_and(|&b| b != 0) {
            return err("string section does not start with an empty string");
        }
        let mut types = vec![TypeEntry {
            kind: 0,
            name_off: 0,
            info: 0,
            size_or_type: 0,
            pos: 0,
        }];
        let mut pos = type_start;
        while pos < type_end {
            if type_end - pos < 12 {
                return err(format!("truncated type record at offset {pos}"));
            }
            let name_off = u32_at(raw, pos)?;
            let info = u32_at(raw, pos + 4)?;
            let size_or_type = u32_at(raw, pos + 8)?;
            let kind = ((info >> 24) & 0x1f) as u8;
            let vlen = (info & 0xffff) as usize;
            let Some(extra) = trailing_len(kind, vlen) else {
                return err(format!(
                    "type [{}] at offset {pos}: unknown kind {kind}",
                    types.len()
                ));
            };
            let next = pos + 12 + extra;
            if next > type_end {
                return err(format!(
                    "type [{}] at offset {pos} runs past the type section",
                    types.len()
                ));
            }
            types.push(TypeEntry {
                kind,
                name_off,
                info,
                size_or_type,
                pos,
            });
            pos = next;
        }
        let reader = BtfReader {
            raw,
            strings,
            types,
        };
        for id in 1..reader.types.len() {
            reader.string(reader.types[id].name_off)?;
        }
        Ok(reader)
    }

    /// The string at `off` in the string section.
    pub fn string(&self, off: u32) -> Result<&'a str, ObjectError> {
        let tail = self
            .strings
            .get(off as usize..)
            .ok_or_else(|| ObjectError::Btf(format!("string offset {off} is out of bounds")))?;
        let len = tail.iter().position(|&b| b == 0).ok_or_else(|| {
            ObjectError::Btf(format!("string at offset {off} is not NUL-terminated"))
        })?;
        std::str::from_utf8(&tail[..len])
            .map_err(|_| ObjectError::Btf(format!("string at offset {off} is not UTF-8")))
    }

    pub fn get(&self, id: u32) -> Result<&TypeEntry, ObjectError> {
        self.types
            .get(id as usize)
            .filter(|_| id != 0)
            .ok_or_else(|| ObjectError::Btf(format!("type id {id} does not exist")))
    }

    #[cfg(test)]
    pub fn name(&self, id: u32) -> Result<&'a str, ObjectError> {
        self.string(self.get(id)?.name_off)
    }

    /// Follows typedefs and qualifiers to the underlying type.
    pub fn skip_modifiers(&self, mut id: u32) -> Result<u32, ObjectError> {
        for _ in 0..MAX_DEPTH {
            let t = self.get(id)?;
            match t.kind {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok(id),
            }
        }
        err(format!("type chain from [{id}] is too deep"))
    }

    /// Size in bytes of a type, as `btf__resolve_size` computes it.
    pub fn size_of(&self, id: u32) -> Result<u64, ObjectError> {
        let mut id = id;
        let mut count: u64 = 1;
        for _ in 0..MAX_DEPTH {
            let t = self.get(id)?;
            match t.kind {
                KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_DATASEC
                | KIND_FLOAT => {
                    return count
                        .checked_mul(t.size_or_type as u64)
                        .filter(|&s| s <= u32::MAX as u64)
                        .ok_or_else(|| ObjectError::Btf(format!("size of type [{id}] overflows")));
                }
                KIND_PTR => {
                    return count
                        .checked_mul(8)
                        .filter(|&s| s <= u32::MAX as u64)
                        .ok_or_else(|| ObjectError::Btf(format!("size of type [{id}] overflows")));
                }
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG
                | KIND_VAR => id = t.size_or_type,
                KIND_ARRAY => {
                    let (elem, n) = self.array(id)?;
                    count = count
                        .checked_mul(n as u64)
                        .filter(|&c| c <= u32::MAX as u64)
                        .ok_or_else(|| ObjectError::Btf(format!("array [{id}] is too large")))?;
                    id = elem;
                }
                k => return err(format!("type [{id}] of kind {k} has no size")),
            }
        }
        err(format!("type chain from [{id}] is too deep"))
    }

    /// Element type and element count of an array type.
    pub fn array(&self, id: u32) -> Result<(u32, u32), ObjectError> {
        let t = self.get(id)?;
        if t.kind != KIND_ARRAY {
            return err(format!("type [{id}] is not an array"));
        }
        Ok((u32_at(self.raw, t.pos + 12)?, u32_at(self.raw, t.pos + 20)?))
    }

    /// Members of a struct or union.
    pub fn members(&self, id: u32) -> Result<Vec<Member>, ObjectError> {
        let t = self.get(id)?;
        if t.kind != KIND_STRUCT && t.kind != KIND_UNION {
            return err(format!("type [{id}] is not a struct or union"));
        }
        (0..t.vlen())
            .map(|i| {
                let p = t.pos + 12 + 12 * i;
                let raw_off = u32_at(self.raw, p + 8)?;
                Ok(Member {
                    name_off: u32_at(self.raw, p)?,
                    type_id: u32_at(self.raw, p + 4)?,
                    bit_offset: if t.kind_flag() {
                        raw_off & 0xff_ffff
                    } else {
                        raw_off
                    },
                })
            })
            .collect()
    }

    /// Variables of a `DATASEC`.
    pub fn datasec_vars(&self, id: u32) -> Result<Vec<SecVar>, ObjectError> {
        let t = self.get(id)?;
        if t.kind != KIND_DATASEC {
            return err(format!("type [{id}] is not a DATASEC"));
        }
        (0..t.vlen())
            .map(|i| {
                let p = t.pos + 12 + 12 * i;
                Ok(SecVar {
                    type_id: u32_at(self.raw, p)?,
                    offset_pos: p + 4,
                })
            })
            .collect()
    }

    /// Every `DATASEC` by name (the first one of each name).
    pub fn datasecs(&self) -> std::collections::HashMap<&'a str, u32> {
        let mut out = std::collections::HashMap::new();
        for id in (1..self.types.len()).rev() {
            let t = &self.types[id];
            if t.kind == KIND_DATASEC {
                if let Ok(name) = self.string(t.name_off) {
                    out.insert(name, id as u32);
                }
            }
        }
        out
    }

    /// A copy of the blob with every `DATASEC` describing an ELF section given its
    /// real size and its variables' real offsets (clang emits zeros; the kernel
    /// rejects those). `section_size(name)` and `var_offset(section, var)` come from
    /// the ELF section and symbol tables; unknown ones are left as they are.
    pub fn fixed_up(
        &self,
        section_size: impl Fn(&str) -> Option<u64>,
        var_offset: impl Fn(&str, &str) -> Option<u64>,
    ) -> Result<Vec<u8>, ObjectError> {
        let mut out = self.raw.to_vec();
        for id in 1..self.types.len() as u32 {
            let t = self.types[id as usize];
            if t.kind != KIND_DATASEC {
                continue;
            }
            let sec = self.string(t.name_off)?;
            let Some(size) = section_size(sec) else {
                continue;
            };
            let size = u32::try_from(size).map_err(|_| {
                ObjectError::Btf(format!("section `{sec}` is too large for a DATASEC"))
            })?;
            out[t.pos + 8..t.pos + 12].copy_from_slice(&size.to_le_bytes());
            for v in self.datasec_vars(id)? {
                let var = self.get(v.type_id)?;
                if var.kind != KIND_VAR {
                    continue;
                }
                let name = self.string(var.name_off)?;
                if let Some(off) = var_offset(sec, name).and_then(|o| u32::try_from(o).ok()) {
                    out[v.offset_pos..v.offset_pos + 4].copy_from_slice(&off.to_le_bytes());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&[1, 0]);
        let tlen = (types.len() * 4) as u32;
        for v in [24, 0, tlen, tlen, strings.len() as u32] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        for t in types {
            b.extend_from_slice(&t.to_le_bytes());
        }
        b.extend_from_slice(strings);
        b
    }

    #[test]
    fn reads_int_and_array_sizes() {
        // [1] INT "int" size 4; [2] ARRAY of [1] x 3
        let types = [1, 1 << 24, 4, 0x20, 0, 3 << 24, 0, 1, 1, 3];
        let b = blob(&types, b"\0int\0");
        let r = BtfReader::parse(&b).unwrap();
        assert_eq!(r.name(1).unwrap(), "int");
        assert_eq!(r.size_of(2).unwrap(), 12);
        assert_eq!(r.array(2).unwrap(), (1, 3));
    }

    #[test]
    fn rejects_string_offsets_past_the_end() {
        let types = [40, 1 << 24, 4, 0x20];
        let b = blob(&types, b"\0int\0");
        assert!(matches!(BtfReader::parse(&b), Err(ObjectError::Btf(_))));
    }

    #[test]
    fn rejects_truncated_records_and_unknown_kinds() {
        let b = blob(&[0, 4 << 24 | 5, 8], b"\0");
        assert!(BtfReader::parse(&b).is_err());
        let b = blob(&[0, 31 << 24, 0], b"\0");
        assert!(BtfReader::parse(&b).is_err());
    }

    #[test]
    fn self_referencing_typedef_is_an_error_not_a_hang() {
        let b = blob(&[0, (KIND_TYPEDEF as u32) << 24, 1], b"\0");
        let r = BtfReader::parse(&b).unwrap();
        assert!(r.size_of(1).is_err());
        assert!(r.skip_modifiers(1).is_err());
    }
}
