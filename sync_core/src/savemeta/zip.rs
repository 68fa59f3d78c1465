//! A small, allocation-light ZIP reader for Ren'Py saves, working in place on `&[u8]`.
//!
//! It reads the End Of Central Directory record, then the central directory, then a
//! member's local header only when that member is read. It supports what Python's
//! `zipfile` writes for a save (stored and deflated members, optional data descriptors,
//! an archive comment, bytes prepended before the archive) and refuses the rest
//! (zip64, multi-disk, encryption, other compression methods) with an error.
//!
//! Every offset comes from untrusted input, so every read is `get(..)` with checked
//! arithmetic; every loop advances by at least one fixed-size record.

use std::borrow::Cow;

use super::SaveReadError;

const LOCAL_HEADER_SIG: u32 = 0x0403_4b50;
const CENTRAL_HEADER_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const LOCAL_HEADER_LEN: usize = 30;
const CENTRAL_HEADER_LEN: usize = 46;
const EOCD_LEN: usize = 22;
/// The archive comment is at most this long, so the EOCD is within this many bytes of the end.
const MAX_COMMENT_LEN: usize = 0xFFFF;

const METHOD_STORED: u16 = 0;
const METHOD_DEFLATED: u16 = 8;
const FLAG_ENCRYPTED: u16 = 0x0001;

/// One member as the central directory describes it.
#[derive(Debug, Clone)]
pub(super) struct Entry<'a> {
    name: &'a [u8],
    flags: u16,
    method: u16,
    crc32: u32,
    compressed_size: usize,
    size: usize,
    local_header: usize,
}

/// A parsed central directory over borrowed archive bytes.
#[derive(Debug)]
pub(super) struct Archive<'a> {
    data: &'a [u8],
    entries: Vec<Entry<'a>>,
}

fn corrupt(why: &str) -> SaveReadError {
    SaveReadError::Corrupt(why.to_owned())
}

fn unsupported(what: &str) -> SaveReadError {
    SaveReadError::Unsupported(what.to_owned())
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([
        bytes.first().copied()?,
        bytes.get(1).copied()?,
    ]))
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = data.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(bytes))
}

/// A 32-bit field as an in-memory size or offset; `0xFFFF_FFFF` means "see the zip64 extra".
fn size_at(data: &[u8], at: usize) -> Result<usize, SaveReadError> {
    match u32_at(data, at) {
        None => Err(corrupt("central directory entry is cut short")),
        Some(u32::MAX) => Err(unsupported("zip64 member")),
        Some(v) => usize::try_from(v).map_err(|_| unsupported("member larger than memory")),
    }
}

impl<'a> Archive<'a> {
    /// Parses the EOCD and the central directory of `data`.
    pub(super) fn parse(data: &'a [u8]) -> Result<Self, SaveReadError> {
        let eocd = find_eocd(data)?;
        let field16 = |off| u16_at(data, eocd + off).ok_or_else(|| corrupt("EOCD cut short"));
        let field32 = |off| u32_at(data, eocd + off).ok_or_else(|| corrupt("EOCD cut short"));
        let (this_disk, cd_disk) = (field16(4)?, field16(6)?);
        let (disk_entries, total_entries) = (field16(8)?, field16(10)?);
        let (cd_size, cd_offset) = (field32(12)?, field32(16)?);
        if disk_entries == u16::MAX
            || total_entries == u16::MAX
            || cd_size == u32::MAX
            || cd_offset == u32::MAX
        {
            return Err(unsupported("zip64 archive"));
        }
        if this_disk != 0 || cd_disk != 0 {
            return Err(unsupported("multi-disk archive"));
        }
        let cd_size = usize::try_from(cd_size).map_err(|_| corrupt("central directory size"))?;
        let cd_offset =
            usize::try_from(cd_offset).map_err(|_| corrupt("central directory offset"))?;
        // As Python's zipfile does, the central directory is taken to end right at the EOCD;
        // any difference to the recorded offset is data prepended to the archive.
        let cd_start = eocd
            .checked_sub(cd_size)
            .ok_or_else(|| corrupt("central directory larger than the file"))?;
        let prepended = cd_start
            .checked_sub(cd_offset)
            .ok_or_else(|| corrupt("central directory offset past its position"))?;
        let directory = data
            .get(cd_start..eocd)
            .ok_or_else(|| corrupt("central directory out of bounds"))?;

        let mut entries = Vec::new();
        let mut at = 0;
        // Like Python, walk the directory's bytes rather than trusting the entry count.
        while at < directory.len() {
            let (entry, next) = parse_central_entry(directory, at, prepended)?;
            entries.push(entry);
            at = next;
        }
        Ok(Self { data, entries })
    }

    /// The member called `name`; with duplicates the last one wins, as in Python's zipfile.
    pub(super) fn find(&self, name: &str) -> Option<&Entry<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.name == name.as_bytes())
    }

    /// The member's content, inflated and CRC-checked; `TooLarge` beyond `limit` bytes.
    /// Stored members are borrowed from the input, never copied.
    pub(super) fn read(
        &self,
        entry: &Entry<'a>,
        limit: usize,
    ) -> Result<Cow<'a, [u8]>, SaveReadError> {
        if entry.flags & FLAG_ENCRYPTED != 0 {
            return Err(unsupported("encrypted member"));
        }
        if entry.size > limit {
            return Err(SaveReadError::TooLarge);
        }
        let raw = self.raw_data(entry)?;
        let content: Cow<'a, [u8]> = match entry.method {
            METHOD_STORED => Cow::Borrowed(raw),
            // The limit is the declared size, so a member lying about its size stops there.
            METHOD_DEFLATED => Cow::Owned(
                miniz_oxide::inflate::decompress_to_vec_with_limit(raw, entry.size)
                    .map_err(|e| corrupt(&format!("deflate stream: {:?}", e.status)))?,
            ),
            other => return Err(unsupported(&format!("compression method {other}"))),
        };
        if content.len() != entry.size {
            return Err(corrupt("member size differs from the central directory"));
        }
        if crc32(&content) != entry.crc32 {
            return Err(corrupt("member CRC-32 mismatch"));
        }
        Ok(content)
    }

    /// The member's stored bytes, located through its local header.
    fn raw_data(&self, entry: &Entry<'a>) -> Result<&'a [u8], SaveReadError> {
        let data = self.data;
        let at = entry.local_header;
        if u32_at(data, at) != Some(LOCAL_HEADER_SIG) {
            return Err(corrupt("bad local header signature"));
        }
        let header_field = |off: usize| {
            u16_at(data, at + off)
                .map(usize::from)
                .ok_or_else(|| corrupt("local header cut short"))
        };
        let (name_len, extra_len) = (header_field(26)?, header_field(28)?);
        let name_start = at + LOCAL_HEADER_LEN;
        let local_name = data.get(name_start..name_start + name_len);
        if local_name != Some(entry.name) {
            return Err(corrupt(
                "local header name differs from the central directory",
            ));
        }
        let start = name_start + name_len + extra_len;
        start
            .checked_add(entry.compressed_size)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| corrupt("member data runs past the end of the file"))
    }
}

/// The position of the End Of Central Directory record: the last signature whose
/// record and comment fit in the file.
fn find_eocd(data: &[u8]) -> Result<usize, SaveReadError> {
    let not_found = || {
        if u32_at(data, 0) == Some(LOCAL_HEADER_SIG) {
            corrupt("no end of central directory (truncated?)")
        } else {
            SaveReadError::NotAZip
        }
    };
    let last = data.len().checked_sub(EOCD_LEN).ok_or_else(not_found)?;
    let first = last.saturating_sub(MAX_COMMENT_LEN);
    (first..=last)
        .rev()
        .find(|&at| {
            u32_at(data, at) == Some(EOCD_SIG)
                && u16_at(data, at + 20)
                    .is_some_and(|comment| at + EOCD_LEN + usize::from(comment) <= data.len())
        })
        .ok_or_else(not_found)
}

/// The central directory entry at `at` in `directory`, and where the next one starts.
fn parse_central_entry<'a>(
    directory: &'a [u8],
    at: usize,
    prepended: usize,
) -> Result<(Entry<'a>, usize), SaveReadError> {
    if u32_at(directory, at) != Some(CENTRAL_HEADER_SIG) {
        return Err(corrupt("bad central directory entry signature"));
    }
    let field16 = |off: usize| {
        u16_at(directory, at + off).ok_or_else(|| corrupt("central directory entry is cut short"))
    };
    let flags = field16(8)?;
    let method = field16(10)?;
    let crc32 = u32_at(directory, at + 16)
        .ok_or_else(|| corrupt("central directory entry is cut short"))?;
    let compressed_size = size_at(directory, at + 20)?;
    let size = size_at(directory, at + 24)?;
    let name_len = usize::from(field16(28)?);
    let extra_len = usize::from(field16(30)?);
    let comment_len = usize::from(field16(32)?);
    let local_header = size_at(directory, at + 42)?
        .checked_add(prepended)
        .ok_or_else(|| corrupt("local header offset overflows"))?;
    let name_start = at + CENTRAL_HEADER_LEN;
    let name = directory
        .get(name_start..name_start + name_len)
        .ok_or_else(|| corrupt("central directory name runs past its end"))?;
    let next = name_start + name_len + extra_len + comment_len;
    if next > directory.len() {
        return Err(corrupt("central directory entry runs past its end"));
    }
    let entry = Entry {
        name,
        flags,
        method,
        crc32,
        compressed_size,
        size,
        local_header,
    };
    Ok((entry, next))
}

/// CRC-32 (IEEE, the one ZIP uses), table-driven.
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |crc, &b| {
        CRC_TABLE[usize::from((crc as u8) ^ b)] ^ (crc >> 8)
    })
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};
