//! The one place where a device name becomes a burn device.
//!
//! `cpu` (the default) is burn's portable CPU backend; `wgpu` and `cuda[:N]` need the
//! cargo features of the same name. Asking for a backend this build lacks is an error.

use crate::error::{Error, Result};
use burn::prelude::Device;

/// A device for training (with autodiff) and the same device for inference.
#[derive(Debug, Clone)]
pub struct Devices {
    /// Device with autodiff, for training.
    pub train: Device,
    /// Plain device, for inference.
    pub infer: Device,
    /// The canonical name, as written to the fit statistics.
    pub name: String,
}

/// Resolve a device name (`cpu`, `wgpu`, `cuda`, `cuda:N`).
pub fn resolve(name: &str) -> Result<Devices> {
    let name = name.trim().to_ascii_lowercase();
    let infer = match name.as_str() {
        "cpu" | "flex" => Device::flex(),
        "wgpu" => wgpu_device()?,
        n if n == "cuda" || n.starts_with("cuda:") => {
            let index = match n.strip_prefix("cuda:") {
                Some(i) => i.parse::<usize>().map_err(|_| {
                    Error::config("device", format!("'{n}': expected cuda or cuda:N"))
                })?,
                None => 0,
            };
            cuda_device(index)?
        }
        other => {
            return Err(Error::config(
                "device",
                format!("unknown device '{other}' (expected cpu, wgpu, cuda or cuda:N)"),
            ))
        }
    };
    let name = if name == "flex" {
        "cpu".to_string()
    } else {
        name
    };
    Ok(Devices {
        train: infer.clone().autodiff(),
        infer,
        name,
    })
}

/// Let the C allocator keep freed memory for reuse while networks train.
///
/// Training allocates and frees buffers of up to a few MiB per tensor operation (the
/// Transformer's attention scores are `[batch, heads, t, t]`). glibc serves blocks above
/// its mmap threshold with fresh mappings and gives freed heap tops back to the system, so
/// every step faulted in and zeroed new pages (19% of a Transformer training step in the
/// profile, `benches/RESULTS.md`). This raises the mmap threshold to 32 MiB and the trim
/// threshold to 256 MiB, process-wide: the memory stays with the process for the next
/// step. Because it changes the whole process, the library never calls it: a program
/// that trains opts in by calling it once at start (the `forecast` binary's `train`,
/// `tune` and `experiment` commands and the neural benches do). Does nothing off glibc.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes allocator tuning parameters; the values are
            // within the documented ranges (mmap threshold at most 32 MiB on 64-bit).
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
            }
        });
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Result<Device> {
    static PROBE: std::sync::OnceLock<std::result::Result<(), String>> = std::sync::OnceLock::new();
    let device = Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
    PROBE.get_or_init(|| probe(&device)).clone().map_err(|m| {
        Error::config(
            "device",
            format!("wgpu: no usable GPU adapter ({m}); use --device cpu"),
        )
    })?;
    Ok(device)
}

/// Run one tiny operation on `device`. GPU runtimes panic when they find no adapter or
/// driver; the panic (its message kept, the default report silenced) becomes an error.
#[cfg(feature = "wgpu")]
fn probe(device: &Device) -> std::result::Result<(), String> {
    use burn::prelude::Tensor;
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Tensor::<1>::zeros([1], device).into_data()
    }));
    std::panic::set_hook(hook);
    r.map(|_| ()).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the runtime failed to start".into())
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Result<Device> {
    Err(Error::config(
        "device",
        "wgpu: this build has no GPU backend (rebuild with `--features wgpu`)",
    ))
}

#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Result<Device> {
    Ok(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(index: usize) -> Result<Device> {
    Err(Error::config(
        "device",
        format!("cuda:{index}: this build has no CUDA backend (rebuild with `--features cuda`, or use wgpu)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_or_missing_backends_are_errors() {
        assert_eq!(resolve("cpu").unwrap().name, "cpu");
        assert!(resolve("tpu").unwrap_err().to_string().contains("device"));
        assert!(resolve("cuda:x").is_err());
        #[cfg(not(feature = "cuda"))]
        assert!(resolve("cuda:0")
            .unwrap_err()
            .to_string()
            .contains("--features cuda"));
        #[cfg(not(feature = "wgpu"))]
        assert!(resolve("wgpu")
            .unwrap_err()
            .to_string()
            .contains("--features wgpu"));
    }
}
