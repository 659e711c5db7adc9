//! Opening a GGUF file, and re-quantising at load the tensor types that have only scalar
//! kernels (Q4_1, Q5_1): dequantised, then stored as the model's chosen format.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;

use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Device;

use crate::{ModelError, Result};

/// What tensors without fast kernels become at load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightFormat {
    /// Keep the file's types.
    #[default]
    Native,
    /// Re-quantise slow types to Q8_0 (AVX2 kernels; activations are quantised to 8 bits too).
    Q8_0,
    /// Dequantise slow types to f32 (dense matmul; 4-8x the memory of those tensors).
    F32,
}

impl std::str::FromStr for WeightFormat {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "native" => Ok(WeightFormat::Native),
            "q8_0" => Ok(WeightFormat::Q8_0),
            "f32" => Ok(WeightFormat::F32),
            _ => Err(ModelError::Load(format!(
                "unknown weight format {s:?} (native, q8_0, f32)"
            ))),
        }
    }
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WeightFormat::Native => "native",
            WeightFormat::Q8_0 => "q8_0",
            WeightFormat::F32 => "f32",
        })
    }
}

/// Tensor types neither candle 0.11 nor our kernels multiply with more than scalar code (Q5_0
/// has our AVX2 kernels, [`crate::kernels::q8`], and stays as it is: a third smaller than
/// Q8_0, so less to read per token).
fn is_slow(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_1 | GgmlDType::Q5_1)
}

pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A parsed GGUF file and a reader positioned over its bytes.
pub struct Gguf {
    pub content: Content,
    pub reader: Box<dyn ReadSeek>,
    /// Tensor count per type, after conversion (for logs and benchmarks).
    pub types: BTreeMap<String, usize>,
}

fn load_err(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Load(format!("{}: {e}", path.display()))
}

pub fn open(path: &Path, format: WeightFormat) -> Result<Gguf> {
    let mut file =
        std::io::BufReader::new(std::fs::File::open(path).map_err(|e| load_err(path, e))?);
    let content = Content::read(&mut file)
        .map_err(|e| load_err(path, format!("not a readable GGUF file: {e}")))?;
    let needs_conversion = format != WeightFormat::Native
        && content.tensor_infos.values().any(|t| is_slow(t.ggml_dtype));
    if !needs_conversion {
        let types = histogram(content.tensor_infos.values().map(|t| t.ggml_dtype));
        return Ok(Gguf {
            content,
            reader: Box::new(file),
            types,
        });
    }
    let target = match format {
        WeightFormat::Q8_0 => GgmlDType::Q8_0,
        WeightFormat::F32 => GgmlDType::F32,
        WeightFormat::Native => unreachable!(),
    };
    let mut names: Vec<&String> = content.tensor_infos.keys().collect();
    names.sort();
    let mut tensors = Vec::with_capacity(names.len());
    for name in &names {
        let q = content
            .tensor(&mut file, name, &Device::Cpu)
            .map_err(|e| load_err(path, format!("tensor {name}: {e}")))?;
        let q = if is_slow(q.dtype()) {
            let t = q.dequantize(&Device::Cpu).map_err(|e| load_err(path, e))?;
            QTensor::quantize(&t, target)
                .map_err(|e| load_err(path, format!("re-quantising {name}: {e}")))?
        } else {
            q
        };
        tensors.push(q);
    }
    let types = histogram(tensors.iter().map(|t| t.dtype()));
    let metadata: Vec<(&str, &gguf_file::Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let named: Vec<(&str, &QTensor)> = names.iter().map(|n| n.as_str()).zip(&tensors).collect();
    let mut buf = Cursor::new(Vec::new());
    gguf_file::write(&mut buf, &metadata, &named).map_err(|e| load_err(path, e))?;
    drop(tensors);
    buf.set_position(0);
    let content = Content::read(&mut buf).map_err(|e| load_err(path, e))?;
    Ok(Gguf {
        content,
        reader: Box::new(buf),
        types,
    })
}

fn histogram(types: impl Iterator<Item = GgmlDType>) -> BTreeMap<String, usize> {
    let mut h = BTreeMap::new();
    for t in types {
        *h.entry(format!("{t:?}")).or_default() += 1;
    }
    h
}

impl Gguf {
    pub fn string(&self, key: &str) -> Option<&str> {
        self.content
            .metadata
            .get(key)
            .and_then(|v| v.to_string().ok())
            .map(|s| s.as_str())
    }

    pub fn u32(&self, key: &str) -> Option<u32> {
        self.content.metadata.get(key).and_then(|v| v.to_u32().ok())
    }

    pub fn architecture(&self) -> Result<&str> {
        self.string("general.architecture")
            .ok_or_else(|| ModelError::Load("GGUF has no general.architecture".into()))
    }
}
