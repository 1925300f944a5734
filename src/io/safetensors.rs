//! safetensors files of float32 arrays, read and written through the `safetensors` crate (the
//! audited reference implementation), with stricter rules on top for files from strangers:
//! the header must be a JSON object (starting with `{`) with no duplicate names, and every tensor
//! must be F32. Everything is validated on the header alone (sizes, offsets that tile the data
//! exactly, shape products without overflow) before a single array is allocated.

use crate::error::{Error, Result};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::collections::HashMap;

const WHAT: &str = "safetensors";
/// The crate's own cap (a 100 MB header is already absurd for a model's weights).
pub const MAX_HEADER_BYTES: usize = 100_000_000;

/// One tensor's name and shape, in the order of its data in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub shape: Vec<usize>,
}

/// A validated header: the `__metadata__` strings (sorted by key) and the tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub metadata: Vec<(String, String)>,
    pub entries: Vec<Entry>,
}

/// Parse and validate the header of a whole safetensors file held in `bytes`.
///
/// # Errors
/// `Format` naming the first problem: a file shorter than its 8-byte size prefix, a header size
/// above 100 MB or past the end of the file, a header that is not UTF-8 or not a JSON object,
/// duplicate names, a dtype other than F32, offsets that overlap, leave holes or point outside
/// the data, a shape whose size overflows or disagrees with its byte range, trailing bytes.
pub fn read_header(bytes: &[u8]) -> Result<Header> {
    Ok(parse(bytes)?.0)
}

/// Read every tensor of a safetensors file (validated first, as `read_header`).
///
/// # Errors
/// As `read_header`.
pub fn read(bytes: &[u8]) -> Result<(Header, Vec<Vec<f32>>)> {
    let (header, ranges, data) = parse(bytes)?;
    let arrays = ranges
        .iter()
        .map(|&(begin, end)| data[begin..end].chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        .collect();
    Ok((header, arrays))
}

/// Serialize named float32 arrays (and string metadata) to the bytes of a safetensors file.
///
/// # Errors
/// `Format` when an array's length differs from its shape's size or two names repeat.
pub fn write(arrays: &[(String, Vec<usize>, &[f32])], metadata: &[(String, String)]) -> Result<Vec<u8>> {
    let mut seen = std::collections::HashSet::new();
    let mut views = Vec::with_capacity(arrays.len());
    for (name, shape, values) in arrays {
        let size = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if size != Some(values.len()) {
            return Err(Error::format(WHAT, format!("{name}: {} values for shape {shape:?}", size.map_or("?".into(), |s| s.to_string())), values.len().to_string()));
        }
        if !seen.insert(name.as_str()) {
            return Err(Error::format(WHAT, "unique tensor names", format!("'{name}' twice")));
        }
        views.push((name.clone(), F32View { shape: shape.clone(), bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect() }));
    }
    let info: HashMap<String, String> = metadata.iter().cloned().collect();
    safetensors::serialize(views, if info.is_empty() { None } else { Some(info) }).map_err(|e| describe(e, 0))
}

struct F32View {
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for F32View {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Our stricter checks, then the crate's validation (offsets tile the data exactly, sizes
/// without overflow, nothing after the last tensor); returns the header, each entry's byte range
/// and the data section.
fn parse(bytes: &[u8]) -> Result<(Header, Vec<(usize, usize)>, &[u8])> {
    if let Some(prefix) = bytes.get(..8) {
        let n = u64::from_le_bytes(prefix.try_into().unwrap_or([0; 8]));
        if n <= MAX_HEADER_BYTES as u64 {
            // In range: the slice exists unless the file is truncated (the crate reports that).
            if let Some(header) = bytes.get(8..8 + n as usize) {
                check_header_text(header)?;
            }
        }
    }
    let (n, meta) = SafeTensors::read_metadata(bytes).map_err(|e| describe(e, bytes.len()))?;
    let data = &bytes[8 + n..];
    let mut entries = Vec::new();
    for name in meta.offset_keys() {
        let Some(info) = meta.info(&name) else { continue };
        if info.dtype != Dtype::F32 {
            return Err(Error::format(WHAT, format!("{name}: dtype F32"), format!("{:?}", info.dtype)));
        }
        entries.push((Entry { name, shape: info.shape.clone() }, info.data_offsets));
    }
    entries.sort_by_key(|(_, offsets)| *offsets);
    let mut metadata: Vec<(String, String)> = meta.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
    metadata.sort();
    let ranges = entries.iter().map(|(_, r)| *r).collect();
    Ok((Header { metadata, entries: entries.into_iter().map(|(e, _)| e).collect() }, ranges, data))
}

/// The header starts with `{` and names no tensor twice (serde would keep the last silently).
fn check_header_text(header: &[u8]) -> Result<()> {
    if header.first() != Some(&b'{') {
        let got = header.first().map_or("an empty header".to_string(), |b| format!("a header starting with byte 0x{b:02x}"));
        return Err(Error::format(WHAT, "a JSON object header starting with '{'", got));
    }
    let Ok(text) = std::str::from_utf8(header) else { return Ok(()) }; // the crate names the UTF-8 error
    let mut de = serde_json::Deserializer::from_str(text);
    if let Ok(Some(name)) = (&mut de).deserialize_map(FirstDuplicate) {
        return Err(Error::format(WHAT, "each tensor name once", format!("'{name}' twice")));
    }
    Ok(())
}

/// Visits the header's top-level keys and returns the first repeated one.
struct FirstDuplicate;

impl<'de> Visitor<'de> for FirstDuplicate {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<IgnoredAny>()?;
            if !seen.insert(key.clone()) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }
}

/// The crate's errors as `Format` errors that say what was expected.
fn describe(err: SafeTensorError, len: usize) -> Error {
    use SafeTensorError::*;
    let (expected, got) = match &err {
        HeaderTooSmall => ("at least the 8-byte header size".to_string(), format!("a file of {len} bytes")),
        HeaderTooLarge => (format!("a header size of at most {MAX_HEADER_BYTES} bytes"), "a larger one".to_string()),
        InvalidHeaderLength => ("a header that fits in the file".to_string(), format!("a header size past the end of a {len}-byte file (truncated?)")),
        InvalidHeader(e) => ("a UTF-8 header".to_string(), e.to_string()),
        InvalidHeaderStart => ("a header starting with '{'".to_string(), "another character".to_string()),
        InvalidHeaderDeserialization(e) => ("a JSON header of {name: {dtype, shape, data_offsets}}".to_string(), e.to_string()),
        InvalidOffset(name) => (format!("{name}: data_offsets that tile the data without gaps or overlaps"), "offsets that do not".to_string()),
        TensorInvalidInfo => ("byte ranges equal to shape x dtype size".to_string(), "a tensor whose range disagrees".to_string()),
        ValidationOverflow => ("shapes whose byte size fits in memory".to_string(), "a shape whose size overflows".to_string()),
        MetadataIncompleteBuffer => ("data that ends exactly where the last tensor ends".to_string(), format!("a {len}-byte file with missing or trailing bytes"))
        ,
        other => ("a valid file".to_string(), other.to_string()),
    };
    Error::format(WHAT, expected, got)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn message(bytes: &[u8]) -> String {
        read(bytes).unwrap_err().to_string()
    }

    #[test]
    fn round_trip_keeps_names_shapes_values_and_metadata() {
        let a = [1.0f32, -2.5, 3.0, 4.0, 5.0, 6.0];
        let bytes = write(&[("dense/kernel".into(), vec![2, 3], &a), ("dense/bias".into(), vec![0], &[])], &[("k".into(), "v".into())]).unwrap();
        let (header, arrays) = read(&bytes).unwrap();
        assert_eq!(header.metadata, vec![("k".to_string(), "v".to_string())]);
        let kernel = header.entries.iter().position(|e| e.name == "dense/kernel").unwrap();
        assert_eq!(header.entries[kernel].shape, vec![2, 3]);
        assert_eq!(arrays[kernel], a.to_vec());
    }

    #[test]
    fn malformed_headers_are_format_errors() {
        assert!(message(&[1, 2, 3]).contains("8-byte"));
        assert!(message(&file("[]", &[])).contains("starting with"));
        assert!(message(&file(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 4])).contains("'a' twice"));
        assert!(message(&file(r#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, &[0; 8])).contains("dtype F32"));
        assert!(message(&file(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, &[0; 8])).contains("tile"));
        assert!(message(&file(r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, &[0; 4])).contains("overflow"));
        assert!(message(&file(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, &[0; 6])).contains("trailing"));
        let mut huge = 200_000_000u64.to_le_bytes().to_vec();
        huge.extend(b"{}");
        assert!(message(&huge).contains("at most"));
    }

    #[test]
    fn write_refuses_a_length_that_disagrees_with_the_shape() {
        assert!(write(&[("w".into(), vec![2, 2], &[1.0; 3])], &[]).is_err());
    }
}
