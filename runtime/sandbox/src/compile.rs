//! Compiling untrusted components: in a child process under CPU-time,
//! address-space and wall-clock limits, and cached artifacts that are
//! trusted only with a valid MAC.
//!
//! Cranelift's work grows with what a component contains (thousands of live
//! locals, branch diamonds), so compiling an upload is tenant-controlled
//! work. A [`ChildCompiler`] re-runs the host program in a compile mode that
//! reads the component on stdin, applies [`CompileLimits`] to itself with
//! `setrlimit`, and writes the serialized artifact on stdout; the parent
//! enforces the wall clock and kills it past that. A child over a limit dies
//! and takes its memory with it.

use crate::error::Error;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Limits on compiling one component in a child process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileLimits {
    /// CPU time, all compiler threads together.
    pub cpu_time: Duration,
    /// Address space of the child, in bytes.
    pub address_space_bytes: u64,
    /// Wall-clock time from start to the artifact.
    pub wall_clock: Duration,
}

impl Default for CompileLimits {
    fn default() -> Self {
        // An 18 MB componentize-py and a 13 MB componentize-js component
        // take 17-21 s of CPU and compile within 1 GiB of address space on
        // the reference machine (BENCHMARKS.md, "Compiling uploads"): about
        // three times that CPU and twice that memory, for slower days.
        CompileLimits {
            cpu_time: Duration::from_secs(60),
            address_space_bytes: 2 << 30,
            wall_clock: Duration::from_secs(120),
        }
    }
}

/// How to start a compile child: a program (usually the running binary)
/// and the arguments that select its compile mode, which must end in a
/// call to [`compile_child`] with the arguments Warden appends
/// ([`ChildRequest::to_args`]).
#[derive(Debug, Clone)]
pub struct ChildCompiler {
    /// The program, e.g. `std::env::current_exe()`.
    pub program: PathBuf,
    /// Arguments before Warden's own, e.g. `["__compile"]`.
    pub args: Vec<OsString>,
    /// The limits the child runs under.
    pub limits: CompileLimits,
}

/// What a compile child needs to know: the engine settings that affect
/// compiled code, and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRequest {
    /// [`SandboxConfig::max_instances`](crate::SandboxConfig::max_instances).
    pub max_instances: u32,
    /// [`SandboxConfig::max_memory_bytes`](crate::SandboxConfig::max_memory_bytes).
    pub max_memory_bytes: usize,
    /// CPU seconds (rounded up).
    pub cpu_seconds: u64,
    /// Address space, bytes.
    pub address_space_bytes: u64,
}

impl ChildRequest {
    /// The arguments that carry this request: `--max-instances N
    /// --max-memory-bytes N --cpu-seconds N --address-space-bytes N`.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--max-instances".into(),
            self.max_instances.to_string(),
            "--max-memory-bytes".into(),
            self.max_memory_bytes.to_string(),
            "--cpu-seconds".into(),
            self.cpu_seconds.to_string(),
            "--address-space-bytes".into(),
            self.address_space_bytes.to_string(),
        ]
    }
}

/// The compile child's work: applies the limits to this process, reads a
/// component from stdin, compiles it and writes the serialized artifact to
/// stdout. Errors are written to stderr as one line; the caller exits
/// non-zero on `Err`.
pub fn compile_child(request: &ChildRequest) -> Result<(), String> {
    use std::io::{Read, Write};
    set_limits(request)?;
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the component: {e}"))?;
    let config = crate::sandbox::engine_config(
        &crate::SandboxConfig {
            max_instances: request.max_instances,
            max_memory_bytes: request.max_memory_bytes,
            ..crate::SandboxConfig::default()
        },
        false,
    );
    let engine = wasmtime::Engine::new(&config).map_err(|e| format!("engine: {e:#}"))?;
    let artifact = engine
        .precompile_component(&bytes)
        .map_err(|e| format!("not a valid WebAssembly component: {e:#}"))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&artifact)
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the artifact: {e}"))
}

#[cfg(unix)]
fn set_limits(request: &ChildRequest) -> Result<(), String> {
    let set = |resource, soft: u64, hard: u64, what: &str| {
        let limit = libc::rlimit {
            rlim_cur: soft as libc::rlim_t,
            rlim_max: hard as libc::rlim_t,
        };
        // SAFETY: setrlimit reads the struct we pass and changes only this
        // process's limits.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(format!(
                "cannot limit {what}: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(())
    };
    // SIGXCPU at the soft limit, SIGKILL a second later.
    set(
        libc::RLIMIT_CPU,
        request.cpu_seconds,
        request.cpu_seconds + 1,
        "CPU time",
    )?;
    set(
        libc::RLIMIT_AS,
        request.address_space_bytes,
        request.address_space_bytes,
        "the address space",
    )?;
    // A child killed over a limit leaves no core file.
    set(libc::RLIMIT_CORE, 0, 0, "core files")?;
    // Compiling yields the CPU to the server's calls.
    // SAFETY: setpriority changes only this process's scheduling priority.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, COMPILE_NICENESS) } != 0 {
        return Err(format!(
            "cannot lower the compiler's priority: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The compile child's niceness: calls in flight come first.
#[cfg(unix)]
const COMPILE_NICENESS: libc::c_int = 10;

#[cfg(not(unix))]
fn set_limits(_request: &ChildRequest) -> Result<(), String> {
    Err("compiling in a limited child process needs a Unix system".into())
}

/// The largest artifact read back from a child.
const MAX_ARTIFACT_BYTES: u64 = 2 << 30;
/// The most of a child's stderr kept for its error message.
const MAX_CHILD_STDERR_BYTES: u64 = 16 * 1024;

/// Compiles `bytes` in a child process; the serialized artifact.
pub(crate) async fn compile_in_child(
    compiler: &ChildCompiler,
    max_instances: u32,
    max_memory_bytes: usize,
    bytes: &[u8],
) -> Result<Vec<u8>, Error> {
    let limits = &compiler.limits;
    let request = ChildRequest {
        max_instances,
        max_memory_bytes,
        cpu_seconds: limits.cpu_time.as_secs_f64().ceil().max(1.0) as u64,
        address_space_bytes: limits.address_space_bytes,
    };
    let mut child = tokio::process::Command::new(&compiler.program)
        .args(&compiler.args)
        .args(request.to_args())
        // The child reads hostile input: it inherits no environment (no
        // key ring, no database URL) and no open files but its pipes.
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            Error::host(
                crate::ErrorKind::Internal,
                format!("cannot start the compiler process: {e}"),
            )
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let input = bytes.to_vec();
    let work = async move {
        let write = async move {
            // A child that died early closes its stdin: that is reported
            // through its exit status, not here.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let mut artifact = Vec::new();
        let mut message = Vec::new();
        let mut stdout = stdout.take(MAX_ARTIFACT_BYTES + 1);
        let mut stderr = stderr.take(MAX_CHILD_STDERR_BYTES);
        let read_out = stdout.read_to_end(&mut artifact);
        let read_err = stderr.read_to_end(&mut message);
        let ((), out, err) = tokio::join!(write, read_out, read_err);
        out.and(err)
            .map_err(|e| format!("reading from the compiler failed: {e}"))?;
        let status = child
            .wait()
            .await
            .map_err(|e| format!("waiting for the compiler failed: {e}"))?;
        Ok::<_, String>((status, artifact, message))
    };
    let (status, artifact, message) = match tokio::time::timeout(limits.wall_clock, work).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(Error::host(crate::ErrorKind::Internal, e)),
        // Dropping `work` drops the child, which kills it.
        Err(_elapsed) => {
            return Err(Error::invalid_component(format!(
                "compiling the component took longer than the limit of {} s",
                limits.wall_clock.as_secs()
            )));
        }
    };
    let message = String::from_utf8_lossy(&message);
    let message = message.trim();
    if status.success() && (artifact.len() as u64) <= MAX_ARTIFACT_BYTES {
        return Ok(artifact);
    }
    Err(Error::invalid_component(describe_failure(
        status, message, &request,
    )))
}

fn describe_failure(
    status: std::process::ExitStatus,
    message: &str,
    request: &ChildRequest,
) -> String {
    let out_of_memory = message.contains("memory allocation of")
        || message.contains("Cannot allocate memory")
        || message.contains("out of memory");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if matches!(status.signal(), Some(libc::SIGXCPU) | Some(libc::SIGKILL)) {
            return format!(
                "compiling the component used more than the CPU time limit of {} s",
                request.cpu_seconds
            );
        }
        if status.signal() == Some(libc::SIGABRT) && out_of_memory {
            return memory_message(request);
        }
    }
    if out_of_memory {
        return memory_message(request);
    }
    if status.success() {
        return "the compiled component is larger than Warden accepts".to_owned();
    }
    match message.lines().last() {
        Some(line) if !line.is_empty() => line.to_owned(),
        _ => format!("compiling the component failed ({status})"),
    }
}

fn memory_message(request: &ChildRequest) -> String {
    format!(
        "compiling the component needed more than the memory limit of {} MiB",
        request.address_space_bytes >> 20
    )
}

/// The key that authenticates cached artifacts: only artifacts Warden
/// itself wrote under this key are ever deserialized.
#[derive(Clone)]
pub struct ArtifactKey([u8; 32]);

impl ArtifactKey {
    /// A key from 32 bytes (e.g. derived from the secret key ring).
    pub fn new(bytes: [u8; 32]) -> Self {
        ArtifactKey(bytes)
    }

    /// The key kept in `dir/artifact.key`, created (mode 0600) with random
    /// bytes when missing. Anyone who can write `dir` can replace it too, so
    /// this catches corruption and stray files, not an attacker with write
    /// access; `warden serve` derives its key from the secret key ring
    /// instead.
    pub fn from_dir(dir: &Path) -> std::io::Result<Self> {
        let path = dir.join("artifact.key");
        if let Ok(bytes) = std::fs::read(&path)
            && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(ArtifactKey(key));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(std::io::Error::other)?;
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        std::io::Write::write_all(&mut file, &key)?;
        file.persist(&path)?;
        Ok(ArtifactKey(key))
    }

    fn mac(&self, sha256: &str, artifact: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("any key length");
        mac.update(sha256.as_bytes());
        mac.update(&(artifact.len() as u64).to_le_bytes());
        mac.update(artifact);
        mac
    }

    /// `artifact ‖ HMAC-SHA256(key, sha256 ‖ len ‖ artifact)`: the file
    /// stored for the component with hex SHA-256 `sha256`.
    pub(crate) fn seal(&self, sha256: &str, mut artifact: Vec<u8>) -> Vec<u8> {
        let tag = self.mac(sha256, &artifact).finalize().into_bytes();
        artifact.extend_from_slice(&tag);
        artifact
    }

    /// The artifact inside a stored file, if its MAC is valid for this
    /// component.
    pub(crate) fn open<'a>(&self, sha256: &str, stored: &'a [u8]) -> Option<&'a [u8]> {
        let split = stored.len().checked_sub(32)?;
        let (artifact, tag) = stored.split_at(split);
        self.mac(sha256, artifact).verify_slice(tag).ok()?;
        Some(artifact)
    }
}

impl fmt::Debug for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ArtifactKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_artifacts_open_only_for_their_component_and_key() {
        let key = ArtifactKey::new([7; 32]);
        let sealed = key.seal("aa", b"code".to_vec());
        assert_eq!(key.open("aa", &sealed), Some(&b"code"[..]));
        assert_eq!(key.open("bb", &sealed), None, "another component's hash");
        assert_eq!(ArtifactKey::new([8; 32]).open("aa", &sealed), None);
        let mut tampered = sealed.clone();
        tampered[0] ^= 1;
        assert_eq!(key.open("aa", &tampered), None);
        assert_eq!(key.open("aa", b"short"), None);
    }
}
