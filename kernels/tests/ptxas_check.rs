//! Compile check of every CUDA kernel without a GPU: NVRTC compiles each module for sm_80 and
//! sm_90, `ptxas -v` assembles the PTX, and the test fails on a compile error, any register spill,
//! or static shared memory over 48 KiB. It prints registers, shared memory and stack per kernel.
//!
//! Needs `libnvrtc.so.12` on `LD_LIBRARY_PATH` and `ptxas` on `PATH` or in the cache folder of
//! `scripts/cuda_tools.sh`. Without them it prints `skipped: ...` and passes, unless
//! `EBMPC_REQUIRE_CUDA_TOOLS=1` (set in CI), where a missing tool is a failure.

use kernels::sources::{MODULES, compile};
use std::path::PathBuf;
use std::process::Command;

const ARCHS: [&str; 2] = ["sm_80", "sm_90"];
/// Static shared memory a block may use without opting in.
const STATIC_SMEM_LIMIT: usize = 48 * 1024;

fn required() -> bool {
    std::env::var("EBMPC_REQUIRE_CUDA_TOOLS").is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    assert!(
        !required(),
        "EBMPC_REQUIRE_CUDA_TOOLS=1 but {why}; run `source scripts/cuda_tools.sh`"
    );
    println!("skipped: {why}");
}

fn find_ptxas() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("ptxas"))
            .find(|f| f.is_file())
    });
    on_path.or_else(|| {
        let base = std::env::var_os("EBMPC_CUDA_TOOLS")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ebmpc-cuda-tools"))
            })?;
        let f = base.join("nvidia/cuda_nvcc/bin/ptxas");
        f.is_file().then_some(f)
    })
}

/// What `ptxas -v` reported for one function.
#[derive(Debug, Default)]
struct Report {
    name: String,
    registers: usize,
    smem: usize,
    stack: usize,
    spill_stores: usize,
    spill_loads: usize,
}

/// The number just before `unit` in `line`, e.g. `number_before("12 bytes smem", "bytes smem")`.
fn number_before(line: &str, unit: &str) -> Option<usize> {
    let head = &line[..line.find(unit)?];
    head.split(|c: char| !c.is_ascii_digit())
        .rfind(|s| !s.is_empty())?
        .parse()
        .ok()
}

fn parse(log: &str) -> Vec<Report> {
    let mut out: Vec<Report> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split("Function properties for ").nth(1) {
            out.push(Report {
                name: rest.trim().to_string(),
                ..Default::default()
            });
            continue;
        }
        let Some(r) = out.last_mut() else { continue };
        if line.contains("spill stores") {
            r.stack = number_before(line, "bytes stack frame").unwrap_or(0);
            r.spill_stores = number_before(line, "bytes spill stores").unwrap_or(0);
            r.spill_loads = number_before(line, "bytes spill loads").unwrap_or(0);
        }
        if line.contains("Used") && line.contains("registers") {
            r.registers = number_before(line, "registers").unwrap_or(0);
            r.smem = number_before(line, "bytes smem").unwrap_or(0);
        }
    }
    out
}

#[test]
fn every_kernel_compiles_for_sm80_and_sm90_without_spills() {
    if let Err(e) = kernels::nvrtc_available() {
        return skip(&format!("NVRTC not loadable ({e})"));
    }
    let Some(ptxas) = find_ptxas() else {
        return skip("ptxas not found on PATH or in the cuda_tools cache");
    };
    let dir = std::env::temp_dir().join(format!("ebmpc-ptxas-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut failures = Vec::new();
    for module in MODULES {
        for arch in ARCHS {
            let ptx = match compile(&module, arch) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{arch} {}: {e}", module.name));
                    continue;
                }
            };
            let path = dir.join(format!("{}_{arch}.ptx", module.name));
            std::fs::write(&path, ptx.to_src()).expect("write ptx");
            let out = Command::new(&ptxas)
                .args([&format!("-arch={arch}"), "-v", "-o"])
                .arg(dir.join(format!("{}_{arch}.cubin", module.name)))
                .arg(&path)
                .output()
                .expect("run ptxas");
            let log = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if !out.status.success() {
                failures.push(format!("{arch} {}: ptxas failed:\n{log}", module.name));
                continue;
            }
            let reports = parse(&log);
            for k in module.kernels {
                if !reports.iter().any(|r| r.name == *k) {
                    failures.push(format!(
                        "{arch} {}: ptxas reported nothing for `{k}`",
                        module.name
                    ));
                }
            }
            for r in &reports {
                println!(
                    "{arch} {:<20} registers {:>3}  smem {:>5} B  stack {:>4} B  spill stores {} B  spill loads {} B",
                    r.name, r.registers, r.smem, r.stack, r.spill_stores, r.spill_loads
                );
                if r.spill_stores > 0 || r.spill_loads > 0 {
                    failures.push(format!(
                        "{arch} {}: {} spills ({} B stores, {} B loads)",
                        module.name, r.name, r.spill_stores, r.spill_loads
                    ));
                }
                if r.smem > STATIC_SMEM_LIMIT {
                    failures.push(format!(
                        "{arch} {}: {} uses {} B static shared memory, limit {STATIC_SMEM_LIMIT}",
                        module.name, r.name, r.smem
                    ));
                }
            }
        }
    }
    if std::env::var_os("EBMPC_KEEP_PTX").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("PTX and cubins kept in {}", dir.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ptxas_report_parser_reads_the_numbers() {
    let log = "ptxas info    : Compiling entry function 'k' for 'sm_90'\n\
               ptxas info    : Function properties for k\n    \
               16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
               ptxas info    : Used 40 registers, used 1 barriers, 32 bytes smem, 400 bytes cmem[0]\n";
    let r = parse(log);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].name.as_str(),
            r[0].registers,
            r[0].smem,
            r[0].stack,
            r[0].spill_stores,
            r[0].spill_loads
        ),
        ("k", 40, 32, 16, 8, 4)
    );
}
