//! Compiling components in a limited child process: the `--compile-*`
//! flags, and the hidden `warden __compile` mode the child runs in.

use clap::Args;
use std::process::ExitCode;
use std::time::Duration;
use warden_sandbox::{ChildCompiler, ChildRequest, CompileLimits};

/// Limits on compiling one component (each runs in a child process).
#[derive(Debug, Clone, Args)]
pub(crate) struct CompileArgs {
    /// CPU time compiling one component may take, in seconds.
    #[arg(long, env = "WARDEN_COMPILE_CPU_SECONDS", value_name = "SECONDS", default_value_t = CompileLimits::default().cpu_time.as_secs())]
    compile_cpu_seconds: u64,
    /// Memory (address space) compiling one component may use, in MiB.
    #[arg(long, env = "WARDEN_COMPILE_MEMORY_MIB", value_name = "MIB", default_value_t = CompileLimits::default().address_space_bytes >> 20)]
    compile_memory_mib: u64,
    /// Wall-clock time compiling one component may take, in seconds.
    #[arg(long, env = "WARDEN_COMPILE_TIMEOUT", value_name = "SECONDS", default_value_t = CompileLimits::default().wall_clock.as_secs())]
    compile_timeout: u64,
}

impl CompileArgs {
    /// The child compiler: this same program in its `__compile` mode.
    pub(crate) fn compiler(&self) -> Result<ChildCompiler, String> {
        let program = std::env::current_exe()
            .map_err(|e| format!("cannot find the warden binary to compile in: {e}"))?;
        Ok(ChildCompiler {
            program,
            args: vec!["__compile".into()],
            limits: CompileLimits {
                cpu_time: Duration::from_secs(self.compile_cpu_seconds.max(1)),
                address_space_bytes: self.compile_memory_mib.max(64) << 20,
                wall_clock: Duration::from_secs(self.compile_timeout.max(1)),
            },
        })
    }
}

/// `warden __compile …`: what [`ChildRequest::to_args`] passes.
#[derive(Debug, Args)]
pub(crate) struct CompileChildArgs {
    #[arg(long)]
    max_instances: u32,
    #[arg(long)]
    max_memory_bytes: usize,
    #[arg(long)]
    cpu_seconds: u64,
    #[arg(long)]
    address_space_bytes: u64,
}

/// Runs the compile child: component on stdin, artifact on stdout.
pub(crate) fn child(args: CompileChildArgs) -> ExitCode {
    let request = ChildRequest {
        max_instances: args.max_instances,
        max_memory_bytes: args.max_memory_bytes,
        cpu_seconds: args.cpu_seconds,
        address_space_bytes: args.address_space_bytes,
    };
    match warden_sandbox::compile_child(&request) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
